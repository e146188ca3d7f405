//! The classifier: multinomial logistic regression (softmax) over the presence of
//! [`features`](super::features), trained by a few epochs of stochastic gradient descent in a
//! fixed order (the same examples give the same model). Small and fast: a model holds one
//! weight per intent for each feature it kept, and a prediction is a sum over the message's
//! features.

use std::collections::HashMap;

use super::kind::Intent;

const CLASSES: usize = Intent::ALL.len();
const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 3.0;
const L2: f32 = 1e-5;

/// One labelled text, as features.
pub struct Example {
    pub features: Vec<String>,
    pub intent: Intent,
    /// How much it counts (an organization's own examples can count more than the starter's).
    pub weight: f32,
}

/// The answer for one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub intent: Intent,
    /// The model's probability of `intent`, 0 to 1.
    pub confidence: f32,
}

/// A trained classifier.
pub struct Model {
    vocabulary: HashMap<String, u32>,
    weights: Vec<[f32; CLASSES]>,
    bias: [f32; CLASSES],
}

impl Model {
    /// Trains on `examples`, keeping only the features `keep` accepts.
    pub fn train(examples: &[Example], keep: impl Fn(&str) -> bool) -> Self {
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let encoded: Vec<(Vec<u32>, usize, f32)> = examples
            .iter()
            .map(|e| {
                let ids = e
                    .features
                    .iter()
                    .filter(|f| keep(f))
                    .map(|f| {
                        let next = vocabulary.len() as u32;
                        *vocabulary.entry(f.clone()).or_insert(next)
                    })
                    .collect();
                (ids, e.intent.index(), e.weight)
            })
            .collect();
        let mut model = Model {
            weights: vec![[0.0; CLASSES]; vocabulary.len()],
            vocabulary,
            bias: [0.0; CLASSES],
        };
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for epoch in 0..EPOCHS {
            shuffle(&mut order, &mut seed);
            let rate = LEARNING_RATE / (1.0 + epoch as f32 * 0.5);
            for &i in &order {
                let (ids, class, weight) = &encoded[i];
                if ids.is_empty() {
                    continue;
                }
                let x = 1.0 / (ids.len() as f32).sqrt();
                let p = model.probabilities(ids, x);
                for (k, pk) in p.iter().enumerate() {
                    let target = if k == *class { 1.0 } else { 0.0 };
                    let g = rate * weight * (target - pk);
                    // A class the example already fits moves nothing worth the time.
                    if g.abs() < 1e-3 {
                        continue;
                    }
                    model.bias[k] += g * 0.1;
                    for &id in ids {
                        let w = &mut model.weights[id as usize][k];
                        *w += g * x - rate * L2 * *w;
                    }
                }
            }
        }
        model
    }

    fn probabilities(&self, ids: &[u32], x: f32) -> [f32; CLASSES] {
        let mut scores = self.bias;
        for &id in ids {
            for (s, w) in scores.iter_mut().zip(self.weights[id as usize].iter()) {
                *s += w * x;
            }
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        for s in scores.iter_mut() {
            *s /= sum;
        }
        scores
    }

    /// The most likely intent of a text given as features; `None` when no feature is known.
    pub fn predict(&self, features: &[String]) -> Option<Prediction> {
        let ids: Vec<u32> = features
            .iter()
            .filter_map(|f| self.vocabulary.get(f).copied())
            .collect();
        if ids.is_empty() {
            return None;
        }
        let p = self.probabilities(&ids, 1.0 / (ids.len() as f32).sqrt());
        let (best, confidence) = p
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        Some(Prediction {
            intent: Intent::ALL[best],
            confidence,
        })
    }

    /// Whether the model holds this feature (`w:word`, `b:word word`, `c:gram`).
    pub fn knows(&self, feature: &str) -> bool {
        self.vocabulary.contains_key(feature)
    }

    /// How many features it holds.
    pub fn len(&self) -> usize {
        self.vocabulary.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vocabulary.is_empty()
    }
}

/// Fisher–Yates with xorshift: a fixed, seedable order without a dependency.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for i in (1..order.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = (*seed % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::super::features::features;
    use super::*;

    fn example(text: &str, intent: Intent) -> Example {
        Example {
            features: features(text),
            intent,
            weight: 1.0,
        }
    }

    #[test]
    fn a_trained_model_tells_apart_what_it_was_shown() {
        let examples = [
            example(
                "where is my parcel, tracking shows nothing",
                Intent::OrderStatus,
            ),
            example("parcel still not here, where is it", Intent::OrderStatus),
            example("please send me the invoice for my order", Intent::Invoice),
            example("I need an invoice with VAT", Intent::Invoice),
        ];
        let model = Model::train(&examples, |_| true);
        let p = model.predict(&features("where is the parcel?")).unwrap();
        assert_eq!(p.intent, Intent::OrderStatus);
        assert!(p.confidence > 0.3);
        let p = model.predict(&features("invoice please")).unwrap();
        assert_eq!(p.intent, Intent::Invoice);
        assert_eq!(model.predict(&features("zzz qqq")), None);
    }

    #[test]
    fn features_refused_by_keep_never_enter_the_model() {
        let examples = [example("secretword parcel", Intent::OrderStatus)];
        let model = Model::train(&examples, |f| !f.contains("secret"));
        assert!(!model.knows("w:secretword"));
        assert!(model.knows("w:parcel"));
    }
}
