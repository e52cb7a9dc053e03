"""BIP-329 wallet labels: import a labels file, export it again byte for byte, look labels up.

Labels are kept beside the book, not in its audit log (see docs/labels.md for why); each import
is recorded with the file's SHA-256.
"""

from boveda.labels.errors import LabelsError
from boveda.labels.file import LabelsFile, read_labels
from boveda.labels.records import LabelRecord
from boveda.labels.refs import LabelType
from boveda.labels.scope import LabelScope
from boveda.labels.store import LabelsImport, export_lines, import_labels, labels_for

__all__ = ["LabelRecord", "LabelScope", "LabelType", "LabelsError", "LabelsFile", "LabelsImport", "export_lines",
           "import_labels", "labels_for", "read_labels"]
