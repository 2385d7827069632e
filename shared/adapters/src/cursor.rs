//! Opaque pagination cursors: the codec is pure and lives in `domain::cursor` (so the fuzz
//! target builds without the AWS SDK); re-exported here, where the stores use it.

pub use domain::cursor::{decode, encode};
