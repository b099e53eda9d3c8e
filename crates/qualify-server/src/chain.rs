//! How an error is written in a log line: with its whole cause chain, once.

use std::error::Error;
use std::fmt;

use qualify_store::StoreError;

/// An error and its sources, `top: source: source of the source`.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        // A store error's message includes its cause's; the cause's sources follow it.
        let mut source = match self.0.downcast_ref::<StoreError>() {
            Some(StoreError::Unavailable(cause) | StoreError::Backend(cause)) => cause.source(),
            _ => self.0.source(),
        };
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("database error")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_chain_names_every_cause() {
        let e = Outer(std::io::Error::other("connection reset"));
        assert_eq!(Chain(&e).to_string(), "database error: connection reset");
        let store = StoreError::Backend(qualify_store::Cause::of(
            "inserting a customer",
            std::io::Error::other("disk full"),
        ));
        assert_eq!(
            Chain(&store).to_string(),
            "database error: inserting a customer: disk full"
        );
    }
}
