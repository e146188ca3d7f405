//! Privacy: the PII detector that anonymization is built on (`lethe privacy redact` shows
//! admins what it catches). Erasure, export and data subject requests come here too.

pub mod pii;
