//! Assist (issue 17): what helps an agent answer — order connectors, the knowledge base and
//! help centre, suggestions and intents computed on the merchant's server, and the optional
//! language model that never sees a person.

pub mod llm;
pub mod suggest;
