"""Routes of this part are added here as they are built."""

from fastapi import APIRouter

router = APIRouter()
