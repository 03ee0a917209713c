"""Schema-aware customer features: custom fields by type plus point-in-time behaviour."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.behaviour import BehaviourConfig, behaviour_features, is_heavy_tailed
from tailorcrm.needs.definitions import as_utc
from tailorcrm.schema.fields import FieldSpec, FieldType, coerce_value, is_missing

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)

MISSING = "(missing)"
NUMBER_GROUP, LOG_GROUP, BEHAVIOUR_GROUP, BOOLEAN_GROUP = (
    "#numbers", "#behaviour_log", "#behaviour", "#booleans")
GROUPS = (NUMBER_GROUP, LOG_GROUP, BEHAVIOUR_GROUP, BOOLEAN_GROUP)
FeatureKind = Literal["number", "boolean", "category", "list", "text", "date", "behaviour"]


class FeatureConfig(BaseModel):
    """Which inputs a need model reads and how each field type is encoded."""

    model_config = ConfigDict(extra="forbid")

    fields: tuple[str, ...] | None = None
    """Customer fields to use; None means every field flagged ``feature``."""
    exclude: tuple[str, ...] = ()
    behaviour: BehaviourConfig | None = Field(default_factory=BehaviourConfig)
    """Behavioural features from events before the cut-off; None turns them off."""
    max_categories: int = Field(default=30, ge=2)
    min_category_share: float = Field(default=0.005, ge=0.0, lt=1.0)
    text_max_terms: int = Field(default=50, ge=1)
    list_max_values: int = Field(default=50, ge=1)


@dataclass(frozen=True)
class FeatureSource:
    """Where one model input comes from: the field or behaviour column and how it is read."""

    column: str
    kind: FeatureKind
    value: str | None = None  # the category, list value or term for one-hot style inputs


def feature_specs(data: Dataset, config: FeatureConfig) -> list[FieldSpec]:
    """The customer field specs a model reads (flagged ``feature``, present, not excluded).

    A ``pii`` field whose ``feature`` flag is off is never read, even when ``config.fields``
    names it: the store clears the flag of every pii field the tenant did not allow
    (``pii_features_allowed``, see :func:`tailorcrm.schema.fields.pii_feature_policy`).
    """
    specs = {s.name: s for s in data.customer_fields}
    if config.fields is None:
        names = [s.name for s in data.customer_fields if s.feature]
    else:
        names = list(config.fields)
    out = []
    for name in names:
        if name in config.exclude or name not in data.customers.columns:
            continue
        spec = specs.get(name)
        if spec is None:  # a column without a declared spec: infer a type from its values
            spec = _infer_spec(name, data.customers[name])
        elif spec.pii and not spec.feature:
            continue
        out.append(spec)
    return out


def _infer_spec(name: str, column: pd.Series) -> FieldSpec:
    if pd.api.types.is_bool_dtype(column):
        kind = FieldType.BOOLEAN
    elif pd.api.types.is_numeric_dtype(column):
        kind = FieldType.NUMBER
    else:
        kind = FieldType.STRING
    return FieldSpec(entity="customer", name=name, type=kind, feature=True)


def reference_time(data: Dataset, cutoff: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    """The cut-off, else just after the last event, else the start of today (UTC)."""
    if cutoff is not None:
        return as_utc(cutoff)
    if len(data.events):
        return as_utc(data.events["ts"].max()) + pd.Timedelta(microseconds=1)
    return pd.Timestamp.now(tz="UTC").normalize()


def feature_frame(
    data: Dataset,
    customers: pd.Index,
    cutoff: dt.datetime | pd.Timestamp | None,
    specs: list[FieldSpec],
    config: FeatureConfig,
    *,
    categories: list[str] | None = None,
) -> pd.DataFrame:
    """The raw, typed inputs of ``customers`` at ``cutoff`` (one column per field/behaviour).

    Numbers, integers and booleans become floats (NaN when missing), dates their age in days
    at the cut-off, enums and strings a string (``"(missing)"``), lists a list, text a string.
    Behavioural columns only read events strictly before the cut-off.
    """
    ref = reference_time(data, cutoff)
    attrs = data.customers.reindex(customers)
    out = pd.DataFrame(index=pd.Index(customers, name="customer_id"))
    for spec in specs:
        out[spec.name] = _typed_column(spec, attrs[spec.name], ref)
    if config.behaviour is not None and len(data.events):
        beh = behaviour_features(data, customers, ref, config.behaviour, categories=categories)
        for col in beh.columns:
            out[col] = beh[col].to_numpy()
    return out


def _safe(spec: FieldSpec, value: Any) -> Any:
    if not isinstance(value, list | tuple | np.ndarray) and (value is pd.NA or value is pd.NaT
                                                          or is_missing(value)):
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        return coerce_value(spec.model_copy(update={"required": False, "default": None}), value)
    except (ValueError, TypeError):
        return None


def _typed_column(spec: FieldSpec, raw: pd.Series, ref: pd.Timestamp) -> pd.Series:
    t = spec.type
    # object first: a nullable column (pandas "boolean", "Int64") would turn None back into
    # pd.NA, whose truth value is ambiguous
    values = raw.astype(object).map(lambda v: _safe(spec, v)).astype(object)
    if t in (FieldType.NUMBER, FieldType.INTEGER):
        return pd.to_numeric(values, errors="coerce").astype(float)
    if t is FieldType.BOOLEAN:
        return values.map(lambda v: np.nan if v is None else float(bool(v))).astype(float)
    if t in (FieldType.DATE, FieldType.DATETIME):
        ts = pd.to_datetime(values, utc=True, errors="coerce")
        return ((ref - ts).dt.total_seconds() / 86400.0).astype(float)
    if t is FieldType.LIST:
        return values.map(lambda v: list(v) if isinstance(v, list) else [])
    if t is FieldType.TEXT:
        return values.map(lambda v: "" if v is None else str(v))
    return values.map(lambda v: MISSING if v is None else str(v))  # enum, string


def _identity(values: list[str]) -> list[str]:
    return values


@dataclass
class FeatureBuilder:
    """Builds and applies the scikit-learn ColumnTransformer for a list of field specs.

    Numbers and integers: median-imputed (with a missing flag), log1p for behavioural
    counts/amounts, then standardized. Booleans: 0/1 (mode-imputed). Enums/strings: one-hot
    (declared enum values, or the frequent values of a string). Lists: multi-hot. Text: TF-IDF
    terms. Dates: age in days, as numbers.
    """

    specs: list[FieldSpec]
    config: FeatureConfig = field(default_factory=FeatureConfig)
    transformer_: ColumnTransformer | None = None
    names_: list[str] = field(default_factory=list)
    sources_: list[FeatureSource] = field(default_factory=list)

    def _parts(self, frame: pd.DataFrame) -> list[tuple[str, Any, Any]]:
        """One transformer per group of same-kind numeric columns, one per other field.

        Grouping the numeric columns (fields, log-scaled behaviour, plain behaviour,
        booleans) keeps the ColumnTransformer small and fast on wide frames.
        """
        cfg = self.config
        parts: list[tuple[str, Any, Any]] = []
        by_name = {s.name: s for s in self.specs}
        groups: dict[str, list[str]] = {g: [] for g in GROUPS}
        for col in frame.columns:
            spec = by_name.get(col)
            t = spec.type if spec is not None else None
            if t is None:
                groups[LOG_GROUP if is_heavy_tailed(col) else BEHAVIOUR_GROUP].append(col)
            elif t in (FieldType.NUMBER, FieldType.INTEGER, FieldType.DATE,
                       FieldType.DATETIME):
                groups[NUMBER_GROUP].append(col)
            elif t is FieldType.BOOLEAN:
                groups[BOOLEAN_GROUP].append(col)
            elif t is FieldType.LIST:
                vec: CountVectorizer = CountVectorizer(
                    analyzer=_identity, binary=True, max_features=cfg.list_max_values)
                if _has_vocabulary(vec, frame[col]):
                    parts.append((col, vec, col))
            elif t is FieldType.TEXT:
                vec = TfidfVectorizer(max_features=cfg.text_max_terms, stop_words="english",
                                      min_df=2 if len(frame) >= 20 else 1)
                if _has_vocabulary(vec, frame[col]):
                    parts.append((col, vec, col))
            else:
                declared = list(spec.enum_values) if spec is not None else []
                if declared:
                    enc = OneHotEncoder(categories=[[*declared, MISSING]],
                                        handle_unknown="ignore", sparse_output=False)
                else:
                    enc = OneHotEncoder(handle_unknown="infrequent_if_exist",
                                        max_categories=cfg.max_categories,
                                        min_frequency=cfg.min_category_share,
                                        sparse_output=False)
                parts.append((col, enc, [col]))
        for group, cols in groups.items():
            if not cols:
                continue
            if group == BOOLEAN_GROUP:
                trans: Any = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
            else:
                steps: list[Any] = [SimpleImputer(strategy="median", add_indicator=True,
                                                  keep_empty_features=True)]
                if group == LOG_GROUP:
                    steps.append(FunctionTransformer(_signed_log1p,
                                                     feature_names_out="one-to-one"))
                trans = make_pipeline(*steps, StandardScaler())
            parts.append((group, trans, cols))
        return parts

    def fit(self, frame: pd.DataFrame) -> FeatureBuilder:
        """Fit the transformer on a training frame from :func:`feature_frame`."""
        if frame.shape[1] == 0:
            raise InsufficientDataError("no features: flag customer fields as features or "
                                        "add events", reason="no_features")
        ct = ColumnTransformer(self._parts(frame), remainder="drop", sparse_threshold=0.0,
                               verbose_feature_names_out=False)
        ct.fit(frame)
        self.transformer_ = ct
        self.names_, self.sources_ = self._names(ct)
        log.debug("feature builder fitted: %d inputs -> %d features", frame.shape[1],
                  len(self.names_))
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The model matrix (dense float64) of a frame with the training columns."""
        if self.transformer_ is None:
            from tailorcrm.errors import NotFittedError
            raise NotFittedError("FeatureBuilder is not fitted")
        out = self.transformer_.transform(frame)
        if sparse.issparse(out):
            out = out.toarray()
        return np.asarray(out, dtype=np.float64)

    def _names(self, ct: ColumnTransformer) -> tuple[list[str], list[FeatureSource]]:
        names: list[str] = []
        sources: list[FeatureSource] = []
        for col, trans, columns in ct.transformers_:
            if trans == "drop" or col == "remainder":
                continue
            if col in GROUPS:
                self._group_names(col, trans, list(columns), names, sources)
            elif isinstance(trans, OneHotEncoder):
                for cat in trans.get_feature_names_out([col]):
                    value = str(cat)[len(col) + 1:]
                    value = "other" if value == "infrequent_sklearn" else value
                    names.append(f"{col} = {value}")
                    sources.append(FeatureSource(col, "category", value))
            elif isinstance(trans, TfidfVectorizer):
                for term in trans.get_feature_names_out():
                    names.append(f"{col} mentions '{term}'")
                    sources.append(FeatureSource(col, "text", str(term)))
            elif isinstance(trans, CountVectorizer):
                for value in trans.get_feature_names_out():
                    names.append(f"{col} has {value}")
                    sources.append(FeatureSource(col, "list", str(value)))
        return names, sources


    def _group_names(self, group: str, trans: Any, columns: list[str], names: list[str],
                     sources: list[FeatureSource]) -> None:
        """Names of a numeric group: its columns, then a missing flag per column with gaps."""
        by_name = {s.name: s for s in self.specs}
        kinds: list[FeatureKind] = []
        for col in columns:
            spec = by_name.get(col)
            date = spec is not None and spec.type in (FieldType.DATE, FieldType.DATETIME)
            kind: FeatureKind = ("boolean" if group == BOOLEAN_GROUP else "date" if date
                                 else "number" if spec is not None else "behaviour")
            kinds.append(kind)
            names.append(f"{col} (age in days)" if date else col)
            sources.append(FeatureSource(col, kind))
        imputer = trans if isinstance(trans, SimpleImputer) else trans.steps[0][1]
        indicator = getattr(imputer, "indicator_", None)
        for j in (indicator.features_ if indicator is not None else []):
            names.append(f"{columns[j]} is missing")
            sources.append(FeatureSource(columns[j], kinds[j], MISSING))


def _has_vocabulary(vectorizer: CountVectorizer, column: pd.Series) -> bool:
    """False when a list/text field yields no terms (all blank), so it is left out."""
    try:
        vectorizer.fit(column)
    except ValueError:  # "empty vocabulary" from scikit-learn
        log.info("field %s has no terms; left out of the features", column.name)
        return False
    return True


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))
