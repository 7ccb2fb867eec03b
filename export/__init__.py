"""mer_edge model building: PyTorch models, training and export.

Installed under the import name ``mer_edge_export`` (``pip install .[train]``);
from a source checkout ``python -m export.<module>`` works too.  Only this
package imports torch; the runtime (``mer_edge``) never does.
"""
