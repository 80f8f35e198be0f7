"""Public testing tools: hypothesis strategies for records and specs, and the assertion that
training and serving cannot skew (``skewless check`` runs it from the command line).

    import skewless
    from hypothesis import given
    from skewless.testing import assert_no_skew, batches

    features = skewless.load("flights.feat", stats="flights.stats.json")

    @given(batches(features))
    def test_training_and_serving_agree(records):
        assert_no_skew(features, records)
"""
from .skew import (SkewChecker, assert_no_skew, assert_same_features, assert_same_transform,
                   check_batches, compare_outputs)
from .specs import spec_sources, uncovered_ops
from .strategies import (batches, columns_of, edge_records, float32s, from_example, int64s,
                         raw_tensors, records, serialize, serving_record, strings, to_example,
                         values)

__all__ = [
    "assert_no_skew", "assert_same_features", "assert_same_transform", "check_batches",
    "compare_outputs", "SkewChecker", "records", "edge_records", "batches", "spec_sources",
    "to_example", "serialize", "raw_tensors", "from_example", "serving_record", "columns_of",
    "values", "int64s", "float32s", "strings", "uncovered_ops",
]
