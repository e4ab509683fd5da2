"""The entropy core: integer probability tables and the coders that turn symbols into bits.

Every bit neurocodec writes comes from here. See :mod:`.coders` for the coders, :mod:`.models`
for the models, :mod:`.tables` for how tables are built reproducibly.
"""

from .coders import CODERS, Decoder, Encoder, StreamCorrupt
from .models import PerSymbolCategorical, TableModel
from .tables import PRECISION, TOTAL, quantize_pmf, scale_index, scale_table

__all__ = ["CODERS", "Decoder", "Encoder", "PRECISION", "PerSymbolCategorical", "StreamCorrupt",
           "TOTAL", "TableModel", "quantize_pmf", "scale_index", "scale_table"]
