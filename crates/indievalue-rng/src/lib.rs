//! # indievalue-rng
//!
//! A small, fully specified random number generator, so that the same seed gives the same numbers
//! on every machine and with every version of third-party crates.
//!
//! [`Rng`] is xoshiro256** seeded through SplitMix64. [`Rng::derive`] mixes a seed with any
//! number of labels (a person id, a setup index, a purpose tag) into an independent stream, so
//! that, for example, the demonstrations of one (seed, person, setup) never depend on who else is
//! sampled.

/// SplitMix64 step: advances `state` and returns a well-mixed 64-bit value.
///
/// ```
/// let mut s = 0u64;
/// let a = indievalue_rng::splitmix64(&mut s);
/// let b = indievalue_rng::splitmix64(&mut s);
/// assert_ne!(a, b);
/// ```
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a text label into a 64-bit value (FNV-1a then SplitMix64), for use with
/// [`Rng::derive`].
///
/// ```
/// use indievalue_rng::label;
/// assert_eq!(label("demonstrations"), label("demonstrations"));
/// assert_ne!(label("a"), label("b"));
/// ```
pub fn label(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    splitmix64(&mut h)
}

/// xoshiro256** generator.
///
/// ```
/// use indievalue_rng::Rng;
/// let mut a = Rng::derive(42, &[7, 1]);
/// let mut b = Rng::derive(42, &[7, 1]);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let mut c = Rng::derive(42, &[7, 2]);
/// assert_ne!(Rng::derive(42, &[7, 1]).next_u64(), c.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one 64-bit value.
    pub fn new(seed: u64) -> Rng {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s }
    }

    /// A generator for a seed and a list of labels; different labels give independent streams.
    pub fn derive(seed: u64, labels: &[u64]) -> Rng {
        let mut st = seed;
        let mut acc = splitmix64(&mut st);
        for &l in labels {
            let mut x = acc ^ l.wrapping_mul(0xD6E8_FEB8_6659_FD93);
            acc = splitmix64(&mut x);
        }
        Rng::new(acc)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (unbiased; `n` must be positive).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Lemire's nearly divisionless method.
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        let mut low = m as u64;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `k` distinct items of `items`, without replacement, in random order (partial
    /// Fisher-Yates on a copy). Returns all items shuffled when `k >= items.len()`.
    ///
    /// ```
    /// use indievalue_rng::Rng;
    /// let picked = Rng::new(1).sample(&[1, 2, 3, 4, 5], 3);
    /// assert_eq!(picked.len(), 3);
    /// let mut sorted = picked.clone();
    /// sorted.sort();
    /// sorted.dedup();
    /// assert_eq!(sorted.len(), 3);
    /// ```
    pub fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        let k = k.min(pool.len());
        for i in 0..k {
            let j = i + self.below((pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}
