//! Query strings: parameter names are matched case-insensitively and a repeated name is refused.

use std::collections::HashMap;

use axum::http::Uri;
use qualify_core::PartnerId;

use crate::http::error::{ApiError, ApiResult};
use crate::http::strict::invalid_at;

/// Query parameters with case-insensitive names (lower-cased); a repeated name is refused.
pub fn query_map(uri: &Uri) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let Some(q) = uri.query() else { return Ok(out) };
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        let key = k.to_ascii_lowercase();
        if out.insert(key.clone(), v.into_owned()).is_some() {
            return Err(ApiError::invalid(format!(
                "The query parameter {key:?} is given more than once."
            )));
        }
    }
    Ok(out)
}

/// `?partner=P`, when given: the scope of an operator's view.
pub fn partner_query(query: &HashMap<String, String>) -> ApiResult<Option<PartnerId>> {
    query
        .get("partner")
        .map(|p| {
            p.parse()
                .map_err(|_| invalid_at("partner", format!("{p:?} is not a GUID")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_are_case_insensitive_and_values_decoded() {
        let uri: Uri = "/x?Code=12%2034&type=Account".parse().unwrap();
        let q = query_map(&uri).unwrap();
        assert_eq!(q["code"], "12 34");
        assert_eq!(q["type"], "Account");
        let dup: Uri = "/x?code=1&CODE=2".parse().unwrap();
        assert!(query_map(&dup).is_err());
        let p: Uri = "/x?partner=nope".parse().unwrap();
        assert!(partner_query(&query_map(&p).unwrap()).is_err());
    }
}
