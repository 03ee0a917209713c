"""A tenant's event-type catalog: the interaction types and the weight each carries."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.schema.event_types import EventType
from tailorcrm.store.base import Repository
from tailorcrm.store.tables import EventTypeRow


class EventTypeRepository(Repository):
    """List, add and change the event types of one tenant."""

    def list(self, tid: int) -> list[EventType]:
        """The tenant's catalog, in the order the types were added."""
        with self._engine.connect() as conn:
            specs = conn.execute(select(EventTypeRow.spec).where(
                EventTypeRow.tenant_id == tid).order_by(EventTypeRow.id)).scalars()
            return [EventType.model_validate(s) for s in specs]

    def names(self, tid: int) -> set[str]:
        """The names of the tenant's event types."""
        return {et.name for et in self.list(tid)}

    def get(self, tid: int, name: str) -> EventType:
        """One event type; NotFoundError if the tenant has none of that name."""
        with self._engine.connect() as conn:
            spec = conn.execute(select(EventTypeRow.spec).where(
                EventTypeRow.tenant_id == tid, EventTypeRow.name == name)).scalar_one_or_none()
        if spec is None:
            raise NotFoundError(f"no event type {name!r}", event_type=name)
        return EventType.model_validate(spec)

    def add(self, tid: int, event_type: EventType) -> None:
        """Add a type to the catalog; ConflictError if the name is taken."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(EventTypeRow).values(
                    tenant_id=tid, name=event_type.name,
                    spec=event_type.model_dump(mode="json")))
        except IntegrityError as exc:
            raise ConflictError(f"event type {event_type.name!r} exists already",
                                event_type=event_type.name) from exc

    def change(self, tid: int, event_type: EventType) -> None:
        """Replace the spec of an existing type (its weight, value use, ...)."""
        with self._engine.begin() as conn:
            result = conn.execute(update(EventTypeRow).where(
                EventTypeRow.tenant_id == tid, EventTypeRow.name == event_type.name,
            ).values(spec=event_type.model_dump(mode="json")))
        if not result.rowcount:
            raise NotFoundError(f"no event type {event_type.name!r}", event_type=event_type.name)
