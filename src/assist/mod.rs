//! Assist (issue 17): what helps agents answer — the knowledge base and help centre.

pub mod knowledge;
