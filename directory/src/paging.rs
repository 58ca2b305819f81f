//! Paged searches (RFC 2696) for results larger than the server's page limit, optionally sorted
//! by the server (RFC 2891) across all pages.

use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Scope, SearchEntry};

use super::{Directory, DirectoryError, Entry, broken, with_timeout};
use crate::diagnostic::LdapFailure;
use crate::dn::Dn;

const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

const SORT_REQUEST_OID: &str = "1.2.840.113556.1.4.473";

/// The server-side sort request (RFC 2891): `SEQUENCE OF SEQUENCE { attributeType }`, ascending
/// by the attribute's own ordering rule. Critical: results in another order would be wrong.
fn sort_control(attribute: &str) -> RawControl {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        // Attribute names are far shorter than 128 bytes: the one-byte length form suffices.
        let mut out = vec![tag, u8::try_from(content.len()).unwrap_or(u8::MAX)];
        out.extend_from_slice(content);
        out
    }
    let key = tlv(0x30, &tlv(0x04, attribute.as_bytes()));
    RawControl {
        ctype: SORT_REQUEST_OID.to_owned(),
        crit: true,
        val: Some(tlv(0x30, &key)),
    }
}

impl Directory {
    /// A search in pages of `page_size` (RFC 2696), handing each page to `on_page` as it
    /// arrives, so any number of results fits in memory; with `sort_by`, the server sorts the
    /// whole result by that attribute across the pages (RFC 2891, which Active Directory and
    /// Samba combine with paging; a server that cannot fails with unavailableCriticalExtension).
    /// Returns the number of pages.
    pub async fn paged_search<E>(
        &mut self,
        base: &Dn,
        filter: &str,
        attrs: &[&str],
        page_size: u32,
        sort_by: Option<&str>,
        mut on_page: impl FnMut(Vec<Entry>) -> Result<(), E>,
    ) -> Result<Result<u32, E>, DirectoryError> {
        let base_text = base.to_string();
        let mut cookie = Vec::new();
        let mut pages = 0u32;
        loop {
            let control: RawControl = PagedResults {
                size: i32::try_from(page_size).unwrap_or(i32::MAX),
                cookie: std::mem::take(&mut cookie),
            }
            .into();
            let mut controls = vec![RawControl {
                crit: true,
                ..control
            }];
            controls.extend(sort_by.map(sort_control));
            self.ldap.with_controls(controls);
            let result = with_timeout(
                &self.address,
                self.timeout,
                self.ldap
                    .search(&base_text, Scope::Subtree, filter, attrs.to_vec()),
            )
            .await?
            .map_err(|e| broken(&self.address, "paged search", &e))?;
            let ldap3::SearchResult(entries, outcome) = result;
            if outcome.rc != 0 {
                return Err(DirectoryError::Operation {
                    operation: "search",
                    dn: base_text,
                    failure: LdapFailure::new(outcome.rc, &outcome.text),
                });
            }
            pages += 1;
            let count = entries.len();
            if let Err(e) = on_page(
                entries
                    .into_iter()
                    .map(|e| Entry::from_search(SearchEntry::construct(e)))
                    .collect(),
            ) {
                return Ok(Err(e));
            }
            cookie = outcome
                .ctrls
                .iter()
                .find(|c| c.1.ctype == PAGED_RESULTS_OID)
                .and_then(|c| c.1.val.as_deref())
                .and_then(paged_cookie)
                .unwrap_or_default();
            log::debug!(
                "page {pages}: {count} entries{}",
                if cookie.is_empty() { ", last page" } else { "" }
            );
            if cookie.is_empty() {
                return Ok(Ok(pages));
            }
        }
    }
}

/// The cookie of a paged-results response value, `SEQUENCE { INTEGER, OCTET STRING }`.
/// Parsed here rather than by ldap3, whose parser panics on a malformed value.
fn paged_cookie(value: &[u8]) -> Option<Vec<u8>> {
    fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (
                rest[..n]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                &rest[n..],
            )
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (0x30, body, _) = element(value)? else {
        return None;
    };
    let (0x02, _, rest) = element(body)? else {
        return None;
    };
    let (0x04, cookie, _) = element(rest)? else {
        return None;
    };
    Some(cookie.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sort_control_names_the_attribute() {
        let control = sort_control("mail");
        assert_eq!(control.ctype, "1.2.840.113556.1.4.473");
        assert!(control.crit);
        assert_eq!(
            control.val.unwrap(),
            [0x30, 0x08, 0x30, 0x06, 0x04, 0x04, b'm', b'a', b'i', b'l']
        );
    }

    #[test]
    fn paged_cookie_parsing() {
        assert_eq!(
            paged_cookie(&[0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, 0xAB, 0xCD]),
            Some(vec![0xAB, 0xCD])
        );
        assert_eq!(
            paged_cookie(&[0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00]),
            Some(vec![])
        );
        let mut long = vec![0x30, 0x81, 0x86, 0x02, 0x01, 0x00, 0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 128));
        assert_eq!(paged_cookie(&long).map(|c| c.len()), Some(128));
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02, 0x01],
            &[0x31, 0x00],
            &[0x30, 0x03, 0x04, 0x01, 0x00],
        ] {
            assert_eq!(paged_cookie(bad), None, "{bad:?}");
        }
    }
}
