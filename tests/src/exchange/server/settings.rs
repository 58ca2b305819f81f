//! What the simulator may be told to play: the Exchange version (its `ServerVersionInfo` and
//! the request versions it accepts), the logon rules, throttling limits, and who may open which
//! mailbox.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::super::soap::ServerVersion;

/// Which Exchange the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// Exchange 2010 SP2.
    #[serde(rename = "2010")]
    Exchange2010Sp2,
    /// Exchange 2016.
    #[serde(rename = "2016")]
    Exchange2016,
    /// Exchange 2019.
    #[serde(rename = "2019")]
    Exchange2019,
}

const VERSIONS_2010: [&str; 5] = [
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
];
const VERSIONS_2013_ON: [&str; 12] = [
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
    "V2017_01_07",
    "V2017_04_14",
    "V2017_07_11",
];

impl Profile {
    /// What `ServerVersionInfo` says.
    pub fn server_version(self) -> ServerVersion {
        match self {
            Profile::Exchange2010Sp2 => ServerVersion {
                major: 14,
                minor: 2,
                build: 247,
                revision: 5,
                version: "Exchange2010_SP2",
            },
            Profile::Exchange2016 => ServerVersion {
                major: 15,
                minor: 1,
                build: 2507,
                revision: 6,
                version: "V2017_07_11",
            },
            Profile::Exchange2019 => ServerVersion {
                major: 15,
                minor: 2,
                build: 1544,
                revision: 4,
                version: "V2017_07_11",
            },
        }
    }

    /// Whether a `RequestServerVersion` is accepted; else the fault code.
    pub fn accepts(self, version: &str) -> Result<(), &'static str> {
        if VERSIONS_2010.contains(&version)
            || (self != Profile::Exchange2010Sp2 && VERSIONS_2013_ON.contains(&version))
        {
            return Ok(());
        }
        // Exchange 2019 answers a version it does not know with ErrorInvalidRequest.
        if self == Profile::Exchange2019 && version == "Exchange2019" {
            return Err("ErrorInvalidRequest");
        }
        Err("ErrorInvalidServerVersion")
    }
}

/// Settings tests may change while the simulator runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The version profile.
    pub profile: Profile,
    /// Refuse NTLM logons without the TLS channel binding.
    pub extended_protection: bool,
    /// Offer and accept Basic.
    pub basic: bool,
    /// Concurrent requests per account before `ErrorServerBusy` (EWSMaxConcurrency).
    pub max_concurrency: usize,
    /// `BackOffMilliseconds` of busy answers.
    pub back_off_ms: u64,
    /// Accounts (sAMAccountName) for which EWS is disabled: HTTP 403.
    pub ews_disabled: Vec<String>,
    /// Start responses with a UTF-8 byte-order mark, as some front ends do.
    pub byte_order_mark: bool,
    /// Answer an NTLM negotiate with a challenge that is not an NTLM message (a broken proxy).
    pub garbage_challenge: bool,
    /// How Autodiscover answers.
    pub autodiscover: super::autodiscover::AutodiscoverSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: Profile::Exchange2016,
            extended_protection: true,
            basic: false,
            max_concurrency: 10,
            back_off_ms: 300,
            ews_disabled: Vec::new(),
            byte_order_mark: false,
            garbage_challenge: false,
            autodiscover: super::autodiscover::AutodiscoverSettings::default(),
        }
    }
}

/// Who may open which mailbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Access {
    /// Mailbox address (lower case once set) → accounts (sAMAccountName) with FullAccess.
    pub full_access: HashMap<String, Vec<String>>,
    /// Accounts holding ApplicationImpersonation.
    pub impersonation: Vec<String>,
}
