"""One module per area, each with one APIRouter."""
