//! `m:ResponseCodeType`: what Exchange says of a request, parsed once from the answer into a
//! type the rest of the tool matches on. One table names each code; a code the table does not
//! know keeps its text.

use std::fmt;

/// Declares the codes this tool acts on, each with its name in EWS.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident,)*) => {
        /// A `ResponseCode`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ResponseCode {
            $($(#[doc = $doc])* $variant,)*
            /// Any other code, as the server wrote it.
            Other(String),
        }

        impl ResponseCode {
            /// The code as EWS names it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ResponseCode::$variant => stringify!($variant),)*
                    ResponseCode::Other(text) => text,
                }
            }

            /// The code named `text`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $(stringify!($variant) => ResponseCode::$variant,)*
                    other => ResponseCode::Other(other.to_owned()),
                }
            }
        }
    };
}

codes! {
    /// Done.
    NoError,
    /// Throttled: wait the `BackOffMilliseconds` the message names.
    ErrorServerBusy,
    /// Something went wrong inside the server (sometimes a busy answer in disguise).
    ErrorInternalServerError,
    /// The request version is not one the server knows.
    ErrorInvalidServerVersion,
    /// A request the server cannot take (Exchange 2019 says so of a version it does not know).
    ErrorInvalidRequest,
    /// The change key is stale: someone changed the folder since it was read.
    ErrorIrresolvableConflict,
    /// No such mailbox.
    ErrorNonExistentMailbox,
    /// The account may not open the mailbox (no FullAccess).
    ErrorAccessDenied,
    /// The account may not impersonate the mailbox (no ApplicationImpersonation).
    ErrorImpersonateUserDenied,
    /// A user in the permission list is not known.
    ErrorInvalidUserInfo,
    /// Two entries name the same user.
    ErrorDuplicateUserIdsSpecified,
    /// The permission list is not acceptable.
    ErrorInvalidPermissionSettings,
    /// The mailbox is being moved.
    ErrorMailboxMoveInProgress,
    /// The mailbox's database is not available.
    ErrorMailboxStoreUnavailable,
    /// No such folder.
    ErrorFolderNotFound,
    /// The request does not match the schema.
    ErrorSchemaValidation,
    /// ResolveNames found nobody by that name.
    ErrorNameResolutionNoResults,
    /// ResolveNames found several (a warning: they are listed).
    ErrorNameResolutionMultipleResults,
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_codes_keep_their_text() {
        for code in [
            ResponseCode::NoError,
            ResponseCode::ErrorServerBusy,
            ResponseCode::ErrorIrresolvableConflict,
            ResponseCode::ErrorSchemaValidation,
        ] {
            assert_eq!(ResponseCode::parse(code.as_str()), code);
        }
        assert_eq!(
            ResponseCode::parse("ErrorQuotaExceeded"),
            ResponseCode::Other("ErrorQuotaExceeded".into())
        );
        assert_eq!(
            ResponseCode::ErrorAccessDenied.to_string(),
            "ErrorAccessDenied"
        );
    }
}
