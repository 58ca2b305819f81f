//! `RequestServerVersion` values and the order to step down through when a server refuses one.

use std::str::FromStr;

common::named! {
    /// The schema versions a request can name (`t:ExchangeVersionType`), oldest first.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum ExchangeVersion {
        /// Exchange 2010 SP2: accepted by 2010 SP2 and every later server; the default.
        Exchange2010Sp2 = "Exchange2010_SP2",
        /// Exchange 2013.
        Exchange2013 = "Exchange2013",
        /// Exchange 2013 SP1.
        Exchange2013Sp1 = "Exchange2013_SP1",
        /// Exchange 2016.
        Exchange2016 = "Exchange2016",
        /// The schema version 2016, 2019 and Subscription Edition report.
        V2017_07_11 = "V2017_07_11",
        /// Exchange 2019 (refused by 2019 itself with `ErrorInvalidRequest`).
        Exchange2019 = "Exchange2019",
    }
}

impl ExchangeVersion {
    /// The version to try after this one was refused: the next older one, down to 2010 SP2.
    pub fn step_down(self) -> Option<ExchangeVersion> {
        let index = Self::ALL.iter().position(|v| *v == self)?;
        index.checked_sub(1).map(|i| Self::ALL[i])
    }
}

impl FromStr for ExchangeVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "\"{text}\" is not a server version; use one of {}",
                    Self::ALL
                        .iter()
                        .map(|v| v.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepping_down_ends_at_2010_sp2() {
        let mut version = ExchangeVersion::Exchange2019;
        let mut seen = vec![version];
        while let Some(next) = version.step_down() {
            version = next;
            seen.push(next);
        }
        assert_eq!(seen.len(), 6);
        assert_eq!(version, ExchangeVersion::Exchange2010Sp2);
        assert_eq!(
            "exchange2010_sp2".parse::<ExchangeVersion>(),
            Ok(ExchangeVersion::Exchange2010Sp2)
        );
        assert!("Exchange2007".parse::<ExchangeVersion>().is_err());
    }
}
