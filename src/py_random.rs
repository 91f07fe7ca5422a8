//! Python's `random.Random`: the Mersenne Twister with CPython's seeding (ints and strings,
//! version 2), so `random(seed=...)` and `shuffle(seed=...)` pick what Ansible picks.

use sha2::Digest;

pub(crate) struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    fn init_genrand(s: u32) -> PyRandom {
        let mut mt = [0u32; 624];
        mt[0] = s;
        for i in 1..624 {
            mt[i] = 1812433253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        PyRandom { mt, index: 624 }
    }

    fn init_by_array(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::init_genrand(19650218);
        let mt = &mut r.mt;
        let n = 624usize;
        let (mut i, mut j) = (1usize, 0usize);
        let klen = key.len().max(1);
        for _ in 0..n.max(klen) {
            let k = key.get(j).copied().unwrap_or(0);
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1664525))
                .wrapping_add(k)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            if j >= klen {
                j = 0;
            }
        }
        for _ in 0..n - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1566083941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        r
    }

    /// `random.Random(n)` for an int seed.
    pub(crate) fn from_int(n: i128) -> PyRandom {
        let mut a = n.unsigned_abs();
        let mut key = vec![];
        while a > 0 {
            key.push(a as u32);
            a >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::init_by_array(&key)
    }

    /// `random.Random(s)` for a str seed: the int of `s + sha512(s)`, big-endian.
    pub(crate) fn from_text(s: &str) -> PyRandom {
        let mut bytes = s.as_bytes().to_vec();
        bytes.extend_from_slice(&sha2::Sha512::digest(s.as_bytes()));
        // little-endian 32-bit words of the big-endian integer
        let mut key = vec![];
        let mut end = bytes.len();
        while end > 0 {
            let start = end.saturating_sub(4);
            let mut w = 0u32;
            for b in &bytes[start..end] {
                w = (w << 8) | *b as u32;
            }
            key.push(w);
            end = start;
        }
        while key.len() > 1 && *key.last().unwrap_or(&1) == 0 {
            key.pop();
        }
        PyRandom::init_by_array(&key)
    }

    pub(crate) fn from_entropy() -> PyRandom {
        let mut b = [0u8; 16];
        let _ = getrandom::getrandom(&mut b);
        PyRandom::from_int(u128::from_le_bytes(b) as i128 & i128::MAX)
    }

    fn genrand_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for k <= 64.
    fn getrandbits(&mut self, k: u32) -> u64 {
        if k <= 32 {
            return (self.genrand_u32() >> (32 - k)) as u64;
        }
        let lo = self.genrand_u32() as u64;
        let hi = (self.genrand_u32() >> (64 - k)) as u64;
        lo | (hi << 32)
    }

    /// `_randbelow(n)`: rejection sampling on `n.bit_length()` bits.
    pub(crate) fn randbelow(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython() {
        // random.Random(42).getrandbits(32) == 2746317213
        assert_eq!(PyRandom::from_int(42).genrand_u32(), 2746317213);
        // random.Random(0).randrange(100) == 49
        assert_eq!(PyRandom::from_int(0).randbelow(100), 49);
    }
}
