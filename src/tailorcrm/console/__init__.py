"""The web console: server-rendered pages beside the API, in the same process, same keys.

Sign in with an API key; a session cookie (HttpOnly, SameSite=Strict) and a per-session CSRF
token on every form follow. The key's scope decides what a page allows (read sees, write
changes data and feedback, admin edits rules, strategies and actions and runs privacy
actions). Pages are Jinja2 templates with htmx for the few live parts and Chart.js for
charts, both vendored into ``static/vendor`` so nothing is fetched at run time.
"""
