//! What an auditor tells the host about itself: the phases it observes, the claims it may
//! emit and the settings it accepts.

use lucid_contract::{Claim, ClaimType, Phase, SettingType, SettingValue};

use crate::error::Error;

/// A claim the auditor may emit.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSpec {
    name: String,
    claim_type: ClaimType,
    phases: Vec<Phase>,
    description: String,
}

impl ClaimSpec {
    /// A claim emitted in every phase of the vocabulary, unless [`ClaimSpec::phases`] narrows it.
    pub fn new(
        name: impl Into<String>,
        claim_type: ClaimType,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            claim_type,
            phases: Vec::new(),
            description: description.into(),
        }
    }

    /// The phases in which the claim may be emitted.
    pub fn phases(mut self, phases: impl IntoIterator<Item = Phase>) -> Self {
        self.phases = phases.into_iter().collect();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn claim_type(&self) -> ClaimType {
        self.claim_type
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The phases set explicitly; empty means "the vocabulary's phases".
    pub fn declared_phases(&self) -> &[Phase] {
        &self.phases
    }
}

/// A setting the auditor accepts, with its default.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingSpec {
    name: String,
    default: SettingValue,
    description: String,
}

impl SettingSpec {
    /// A setting whose type is the type of `default`.
    pub fn new(
        name: impl Into<String>,
        default: SettingValue,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            default,
            description: description.into(),
        }
    }

    pub fn boolean(name: impl Into<String>, default: bool, description: impl Into<String>) -> Self {
        Self::new(name, SettingValue::Boolean(default), description)
    }

    pub fn count(name: impl Into<String>, default: u64, description: impl Into<String>) -> Self {
        Self::new(name, SettingValue::Count(default), description)
    }

    pub fn number(name: impl Into<String>, default: f64, description: impl Into<String>) -> Self {
        Self::new(name, SettingValue::Number(default), description)
    }

    pub fn string(
        name: impl Into<String>,
        default: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self::new(name, SettingValue::String(default.into()), description)
    }

    pub fn string_list<I, S>(
        name: impl Into<String>,
        default: I,
        description: impl Into<String>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let default = default.into_iter().map(Into::into).collect();
        Self::new(name, SettingValue::StringList(default), description)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn setting_type(&self) -> SettingType {
        self.default.setting_type()
    }

    pub fn default_value(&self) -> &SettingValue {
        &self.default
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

/// Everything the host needs to know about an auditor before running it.
///
/// ```
/// use lucid_auditor_sdk::{ClaimSpec, ClaimType, Phase, SettingSpec, Vocabulary};
///
/// let vocabulary = Vocabulary::new("budget", "0.1.0", "estimates prompt size")
///     .phases([Phase::Request])
///     .claim(ClaimSpec::new("estimated_tokens", ClaimType::Count, "estimated prompt tokens"))
///     .setting(SettingSpec::count("max_tokens", 4096, "prompt token budget"));
/// assert_eq!(vocabulary.effective_phases(&vocabulary.claims()[0]), &[Phase::Request]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    id: String,
    version: String,
    description: String,
    phases: Vec<Phase>,
    claims: Vec<ClaimSpec>,
    settings: Vec<SettingSpec>,
}

impl Vocabulary {
    /// `id` is the stable identifier (lowercase letters, digits, `-`, `_`); `version` is the
    /// auditor's semver, usually `env!("CARGO_PKG_VERSION")`.
    pub fn new(
        id: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            version: version.into(),
            description: description.into(),
            phases: Vec::new(),
            claims: Vec::new(),
            settings: Vec::new(),
        }
    }

    /// The phases the auditor wants to observe.
    pub fn phases(mut self, phases: impl IntoIterator<Item = Phase>) -> Self {
        self.phases = phases.into_iter().collect();
        self
    }

    pub fn claim(mut self, claim: ClaimSpec) -> Self {
        self.claims.push(claim);
        self
    }

    pub fn setting(mut self, setting: SettingSpec) -> Self {
        self.settings.push(setting);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn observed_phases(&self) -> &[Phase] {
        &self.phases
    }

    pub fn claims(&self) -> &[ClaimSpec] {
        &self.claims
    }

    pub fn settings(&self) -> &[SettingSpec] {
        &self.settings
    }

    pub fn claim_spec(&self, name: &str) -> Option<&ClaimSpec> {
        self.claims.iter().find(|spec| spec.name == name)
    }

    pub fn setting_spec(&self, name: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|spec| spec.name == name)
    }

    /// The phases a claim may be emitted in: its own, or the vocabulary's when it set none.
    pub fn effective_phases<'a>(&'a self, claim: &'a ClaimSpec) -> &'a [Phase] {
        if claim.phases.is_empty() {
            &self.phases
        } else {
            &claim.phases
        }
    }

    /// Checks the vocabulary itself the way the host will: a well-formed id, a version, no
    /// duplicate claim or setting names, claim phases within the observed phases.
    pub fn validate(&self) -> Result<(), Error> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(Error::failed(format!(
                "vocabulary id '{}' is invalid; expected lowercase letters, digits, '-' and '_'",
                self.id
            )));
        }
        if self.version.is_empty() {
            return Err(Error::failed(format!(
                "vocabulary '{}' has an empty version",
                self.id
            )));
        }
        for (i, claim) in self.claims.iter().enumerate() {
            if self.claims[..i]
                .iter()
                .any(|other| other.name == claim.name)
            {
                return Err(Error::failed(format!(
                    "claim '{}' is declared twice",
                    claim.name
                )));
            }
            if let Some(phase) = claim
                .phases
                .iter()
                .find(|phase| !self.phases.contains(phase))
            {
                return Err(Error::failed(format!(
                    "claim '{}' names phase '{}', which the auditor does not observe",
                    claim.name,
                    phase.as_str()
                )));
            }
        }
        for (i, setting) in self.settings.iter().enumerate() {
            if self.settings[..i]
                .iter()
                .any(|other| other.name == setting.name)
            {
                return Err(Error::failed(format!(
                    "setting '{}' is declared twice",
                    setting.name
                )));
            }
        }
        Ok(())
    }

    /// Checks claims emitted in `phase` against this vocabulary: declared names, matching types,
    /// allowed phases, values and confidences in their domains ([`Claim::check_domain`]). Meant
    /// for auditors' own tests; the host performs the same checks on real output.
    pub fn check_claims(&self, phase: Phase, claims: &[Claim]) -> Result<(), Error> {
        for claim in claims {
            let Some(spec) = self.claim_spec(claim.name()) else {
                return Err(Error::failed(format!(
                    "claim '{}' is not declared in the vocabulary",
                    claim.name()
                )));
            };
            let actual = claim.value().claim_type();
            if actual != spec.claim_type {
                return Err(Error::failed(format!(
                    "claim '{}' has type {}; expected {}",
                    claim.name(),
                    actual.as_str(),
                    spec.claim_type.as_str()
                )));
            }
            if !self.effective_phases(spec).contains(&phase) {
                return Err(Error::failed(format!(
                    "claim '{}' is not declared for phase '{}'",
                    claim.name(),
                    phase.as_str()
                )));
            }
            claim
                .check_domain()
                .map_err(|error| Error::failed(error.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary::new("demo", "1.0.0", "a demo")
            .phases([Phase::Request, Phase::Response])
            .claim(ClaimSpec::new("flag", ClaimType::Boolean, "a flag"))
            .claim(
                ClaimSpec::new("risk", ClaimType::ScoreNormalized, "a risk")
                    .phases([Phase::Request]),
            )
            .setting(SettingSpec::number("threshold", 0.5, "a threshold"))
    }

    #[test]
    fn a_claim_without_phases_inherits_the_vocabulary_phases() {
        let vocabulary = vocabulary();
        let flag = vocabulary.claim_spec("flag").unwrap();
        assert_eq!(
            vocabulary.effective_phases(flag),
            &[Phase::Request, Phase::Response]
        );
        let risk = vocabulary.claim_spec("risk").unwrap();
        assert_eq!(vocabulary.effective_phases(risk), &[Phase::Request]);
        assert_eq!(
            vocabulary.setting_spec("threshold").unwrap().setting_type(),
            SettingType::Number
        );
        vocabulary.validate().unwrap();
    }

    #[test]
    fn validation_rejects_bad_ids_duplicates_and_unobserved_phases() {
        assert!(Vocabulary::new("Bad Id", "1", "").validate().is_err());
        let duplicate = vocabulary().claim(ClaimSpec::new("flag", ClaimType::Count, ""));
        assert!(duplicate.validate().is_err());
        let unobserved = vocabulary()
            .claim(ClaimSpec::new("late", ClaimType::Count, "").phases([Phase::Artifact]));
        assert!(unobserved.validate().is_err());
    }

    #[test]
    fn claims_are_checked_against_the_vocabulary() {
        let vocabulary = vocabulary();
        vocabulary
            .check_claims(
                Phase::Request,
                &[Claim::boolean("flag", true), Claim::score("risk", 0.2)],
            )
            .unwrap();
        assert!(
            vocabulary
                .check_claims(Phase::Response, &[Claim::score("risk", 0.2)])
                .is_err()
        );
        assert!(
            vocabulary
                .check_claims(Phase::Request, &[Claim::count("flag", 1)])
                .is_err()
        );
        assert!(
            vocabulary
                .check_claims(Phase::Request, &[Claim::count("unknown", 1)])
                .is_err()
        );
        let unclamped = Claim {
            value: lucid_contract::ClaimValue::ScoreNormalized(1.5),
            ..Claim::score("risk", 0.0)
        };
        let err = vocabulary
            .check_claims(Phase::Request, &[unclamped])
            .unwrap_err();
        assert_eq!(
            err,
            Error::failed("claim 'risk' has score 1.5, expected a number in 0.0..=1.0")
        );
    }
}
