//! One customer of the partner, as the operations under `/v1/customers/{id}` address it.

use crate::Client;

#[derive(Debug, Clone)]
pub(crate) struct CustomerRef<'a> {
    client: &'a Client,
    id: String,
}

impl<'a> CustomerRef<'a> {
    pub(crate) fn new(client: &'a Client, id: String) -> Self {
        Self { client, id }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// `v1/customers/{id}` and `rest`.
    pub(crate) fn segments<'s>(&'s self, rest: &[&'s str]) -> Vec<&'s str> {
        let mut s = vec!["v1", "customers", self.id.as_str()];
        s.extend_from_slice(rest);
        s
    }

    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }
}
