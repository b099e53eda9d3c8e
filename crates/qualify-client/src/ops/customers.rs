//! `/v1/customers` and the profiles of a customer (api.md 4.4).

use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{Call, MS_CONTINUATION_TOKEN};
use crate::models::{
    BillingProfile, CompanyProfile, Customer, NewCustomer, ResourceCollection, ValidationType,
};
use crate::ops::customer_ref::CustomerRef;
use crate::ops::qualifications::{LegacyQualificationOperations, Qualifications};
use crate::ops::validations::ValidationStatusOperations;

/// `client.customers()`.
#[derive(Debug, Clone, Copy)]
pub struct Customers<'a> {
    client: &'a Client,
}

impl<'a> Customers<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// The operations on one customer. `id` is the customer's tenant id (a GUID).
    pub fn by_id(&self, id: impl std::fmt::Display) -> CustomerOperations<'a> {
        CustomerOperations {
            customer: CustomerRef::new(self.client, id.to_string()),
        }
    }

    /// `POST /v1/customers`: a new customer of the calling partner.
    pub async fn create(&self, customer: &NewCustomer) -> Result<Customer> {
        self.client
            .send(Call::new(Method::POST, &["v1", "customers"]).json(customer)?)
            .await
    }

    /// The first page of the partner's customers, in the server's default page size.
    pub async fn list(&self) -> Result<ResourceCollection<Customer>> {
        self.client.send(Call::get(&["v1", "customers"])).await
    }

    /// The first page, `size` customers at most.
    pub async fn list_with_size(&self, size: u32) -> Result<ResourceCollection<Customer>> {
        self.client
            .send(Call::get(&["v1", "customers"]).query("size", size.to_string()))
            .await
    }

    /// The page after `page` (`seekOperation=Next` with its continuation token), or `None` when
    /// `page` was the last one.
    pub async fn next_page(
        &self,
        page: &ResourceCollection<Customer>,
    ) -> Result<Option<ResourceCollection<Customer>>> {
        let Some(token) = page.continuation() else {
            return Ok(None);
        };
        let mut call = Call::get(&["v1", "customers"]);
        // Keep what the server put in the next link's query (its page size).
        if let Some(next) = &page.links.next
            && let Ok(link) =
                reqwest::Url::parse("http://link.invalid/").and_then(|base| base.join(&next.uri))
        {
            for (k, v) in link.query_pairs() {
                if !k.eq_ignore_ascii_case("seekOperation") {
                    call = call.query(&k, v.into_owned());
                }
            }
        }
        let call = call
            .query("seekOperation", "Next")
            .header(MS_CONTINUATION_TOKEN, token);
        self.client.send(call).await.map(Some)
    }

    /// Every customer of the partner, page after page.
    pub async fn list_all(&self) -> Result<Vec<Customer>> {
        let mut page = self.list().await?;
        let mut all = std::mem::take(&mut page.items);
        while let Some(mut next) = self.next_page(&page).await? {
            all.append(&mut next.items);
            page = next;
        }
        Ok(all)
    }
}

/// `client.customers().by_id(id)`.
#[derive(Debug, Clone)]
pub struct CustomerOperations<'a> {
    customer: CustomerRef<'a>,
}

impl<'a> CustomerOperations<'a> {
    pub fn id(&self) -> &str {
        self.customer.id()
    }

    fn segments<'s>(&'s self, rest: &[&'s str]) -> Vec<&'s str> {
        self.customer.segments(rest)
    }

    /// `GET /v1/customers/{id}`.
    pub async fn get(&self) -> Result<Customer> {
        self.customer
            .client()
            .send(Call::get(&self.segments(&[])))
            .await
    }

    /// `.../profiles`.
    pub fn profiles(&self) -> Profiles<'a> {
        Profiles {
            customer: self.customer.clone(),
        }
    }

    /// `.../qualifications`: the current contract.
    pub fn qualifications(&self) -> Qualifications<'a> {
        Qualifications::new(self.customer.clone())
    }

    /// `.../qualification`: the retired single-value contract.
    pub fn qualification(&self) -> LegacyQualificationOperations<'a> {
        LegacyQualificationOperations::new(self.customer.clone())
    }

    /// `.../validationStatus?type=...`.
    pub fn validation_status(&self, kind: ValidationType) -> ValidationStatusOperations<'a> {
        ValidationStatusOperations::new(self.customer.clone(), kind)
    }
}

/// `client.customers().by_id(id).profiles()`.
#[derive(Debug, Clone)]
pub struct Profiles<'a> {
    customer: CustomerRef<'a>,
}

impl<'a> Profiles<'a> {
    pub fn company(&self) -> CompanyProfileOperations<'a> {
        CompanyProfileOperations {
            customer: self.customer.clone(),
        }
    }

    pub fn billing(&self) -> BillingProfileOperations<'a> {
        BillingProfileOperations {
            customer: self.customer.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompanyProfileOperations<'a> {
    customer: CustomerRef<'a>,
}

impl CompanyProfileOperations<'_> {
    /// `GET .../profiles/company`.
    pub async fn get(&self) -> Result<CompanyProfile> {
        let segments = self.customer.segments(&["profiles", "company"]);
        self.customer.client().send(Call::get(&segments)).await
    }
}

#[derive(Debug, Clone)]
pub struct BillingProfileOperations<'a> {
    customer: CustomerRef<'a>,
}

impl BillingProfileOperations<'_> {
    /// `GET .../profiles/billing`.
    pub async fn get(&self) -> Result<BillingProfile> {
        let segments = self.customer.segments(&["profiles", "billing"]);
        self.customer.client().send(Call::get(&segments)).await
    }

    /// `PUT .../profiles/billing` with `If-Match: etag` (the etag of the profile you read): a
    /// [`PreconditionFailed`](crate::ErrorCategory::PreconditionFailed) error when someone
    /// changed it since.
    pub async fn update(&self, profile: &BillingProfile, etag: &str) -> Result<BillingProfile> {
        let segments = self.customer.segments(&["profiles", "billing"]);
        let call = Call::new(Method::PUT, &segments)
            .header("If-Match", crate::http::quoted_etag(etag))
            .json(profile)?;
        self.customer.client().send(call).await
    }
}
