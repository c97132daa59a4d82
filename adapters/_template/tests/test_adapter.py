"""Tests every adapter needs; copy to tests/<cloud>/ and replace `template`.

- the golden plan of each reference stack (`--update-golden` rewrites it; review the diff);
- a changed key input changes the plan;
- every check() rule rejects a bad value;
- every taggable resource is tagged (mlfn.testing.assert_tagged);
- the plan's inputs pass the cloud's own schema, each rule with a bad value that fails it.
"""
