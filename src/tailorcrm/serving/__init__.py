"""Online serving: per-tenant model cache with atomic swap, recommendation look-ups, jobs."""
