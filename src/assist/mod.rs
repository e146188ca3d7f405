//! Assist (issue 17): what helps an agent answer — the customer's orders from linked shops,
//! the intent of a customer's message, suggestions computed on the merchant's server, the
//! knowledge base and help centre, and the optional language model that never sees a person.

pub mod intent;
pub mod knowledge;
pub mod llm;
pub mod orders;
pub mod suggest;
