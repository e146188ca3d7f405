//! The per-organization models, in memory only: derived from customer text, they are never
//! written anywhere (not to the database, not to disk, not to a backup), so each node trains
//! its own and a restart starts from the starter model until the next run of the job.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::orgs::OrgId;

use super::model::Model;

/// An organization's own model and what it was trained on.
pub struct OrgModel {
    pub model: Model,
    /// Tagged conversations used, per intent (in `Intent::ALL` order).
    pub examples: [usize; super::kind::Intent::ALL.len()],
}

/// The trained models of this node, by organization.
#[derive(Default)]
pub struct OrgModels {
    inner: RwLock<HashMap<OrgId, Arc<OrgModel>>>,
}

impl OrgModels {
    /// The organization's own model, if it has one.
    pub fn get(&self, org: OrgId) -> Option<Arc<OrgModel>> {
        self.inner
            .read()
            .ok()
            .and_then(|models| models.get(&org).cloned())
    }

    /// Puts in (or, with `None`, takes out) the organization's model.
    pub fn set(&self, org: OrgId, model: Option<OrgModel>) {
        if let Ok(mut models) = self.inner.write() {
            match model {
                Some(model) => {
                    models.insert(org, Arc::new(model));
                }
                None => {
                    models.remove(&org);
                }
            }
        }
    }
}
