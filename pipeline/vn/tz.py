"""Vietnam's time: UTC+07:00 all year (no daylight saving since 1975). The one VN_TZ of the
pipeline: register dates, statements, deadlines and retention dates are all days in it."""

from __future__ import annotations

from datetime import timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")
