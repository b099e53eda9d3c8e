//! Black-box tests of the HTTP contract (api.md), against the real binary.

mod helpers;

mod smoke;
