"""The one MetaData every table of the main store is registered on."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
