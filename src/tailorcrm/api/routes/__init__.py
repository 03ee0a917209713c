"""One router per resource; each route validates, calls one service function, shapes output."""
