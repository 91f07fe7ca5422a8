//! File modes as Ansible takes them: octal (`"0644"`) or chmod's symbolic form
//! (`u=rwX,g=rX,o=`, `a+x`, `go-w`), resolved against a path's current mode the way chmod
//! does, so a plan can compare numbers.

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mode {
    Octal(u32),
    /// As written (chmod takes it so), and parsed.
    Symbolic(String, Vec<Clause>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    /// Bits of u, g, o this clause acts on (0o7777 style masks); `a` when none was written.
    who: u32,
    ops: Vec<(char, Perm)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Perm {
    Bits(String),
    /// `g=u`: copy another class's bits.
    Copy(char),
}

pub(crate) fn parse(text: &str) -> Option<Mode> {
    let t = text.trim();
    if !t.is_empty() && t.len() <= 5 && t.chars().all(|c| ('0'..='7').contains(&c)) {
        return u32::from_str_radix(t, 8).ok().map(Mode::Octal);
    }
    let mut clauses = Vec::new();
    for part in t.split(',') {
        let who_end = part
            .find(['+', '-', '='])
            .filter(|&i| i > 0 || !part.is_empty())?;
        let (who_s, mut rest) = part.split_at(who_end);
        let mut who = 0;
        for c in who_s.chars() {
            who |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return None,
            };
        }
        if who_s.is_empty() {
            who = 0o7777;
        }
        let mut ops = Vec::new();
        while let Some(op) = rest.chars().next().filter(|c| matches!(c, '+' | '-' | '=')) {
            rest = &rest[1..];
            let end = rest.find(['+', '-', '=']).unwrap_or(rest.len());
            let perm = &rest[..end];
            rest = &rest[end..];
            if perm.len() == 1 && matches!(perm, "u" | "g" | "o") {
                ops.push((op, Perm::Copy(perm.chars().next()?)));
            } else if perm.chars().all(|c| "rwxXst".contains(c)) {
                ops.push((op, Perm::Bits(perm.to_string())));
            } else {
                return None;
            }
        }
        if ops.is_empty() || !rest.is_empty() {
            return None;
        }
        clauses.push(Clause { who, ops });
    }
    Some(Mode::Symbolic(t.to_string(), clauses))
}

impl Mode {
    /// As chmod takes it.
    pub(crate) fn text(&self) -> String {
        match self {
            Mode::Octal(n) => format!("{n:04o}"),
            Mode::Symbolic(t, _) => t.clone(),
        }
    }

    /// The mode a path with mode `cur` (permission bits, 0o7777) ends up with.
    pub(crate) fn resolve(&self, cur: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            Mode::Octal(m) => return *m,
            Mode::Symbolic(_, c) => c,
        };
        let mut m = cur & 0o7777;
        for c in clauses {
            for (op, perm) in &c.ops {
                let bits = match perm {
                    Perm::Copy(from) => {
                        let shift = match from {
                            'u' => 6,
                            'g' => 3,
                            _ => 0,
                        };
                        let rwx = (m >> shift) & 7;
                        (rwx << 6 | rwx << 3 | rwx) & c.who & 0o777
                    }
                    Perm::Bits(s) => {
                        let mut b = 0;
                        for ch in s.chars() {
                            b |= match ch {
                                'r' => 0o444,
                                'w' => 0o222,
                                'x' => 0o111,
                                // X: execute for directories, and files someone may execute.
                                'X' if is_dir || cur & 0o111 != 0 => 0o111,
                                'X' => 0,
                                's' => 0o6000,
                                't' => 0o1000,
                                _ => 0,
                            };
                        }
                        b & c.who
                    }
                };
                match op {
                    '+' => m |= bits,
                    '-' => m &= !bits,
                    _ => {
                        // `=` clears the classes named (keeping a directory's setgid, as chmod
                        // does) and sets the bits given.
                        let mut clear = c.who & 0o777;
                        clear |= c.who & 0o5000;
                        if !is_dir {
                            clear |= c.who & 0o2000;
                        }
                        m = (m & !clear) | bits;
                    }
                }
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (mode, current, is a directory, expected): checked against GNU chmod on Debian 12.
    #[test]
    fn symbolic_modes_resolve_like_chmod() {
        let table = [
            ("u=rwX,g=rX,o=", 0o644, false, 0o640),
            ("u=rwX,g=rX,o=", 0o755, false, 0o750),
            ("u=rwX,g=rX,o=", 0o700, true, 0o750),
            ("a+x", 0o644, false, 0o755),
            ("go-w", 0o666, false, 0o644),
            ("u+s", 0o755, false, 0o4755),
            ("g=u", 0o640, false, 0o660),
            ("=r", 0o777, false, 0o444),
            ("0750", 0o644, false, 0o750),
            ("u=rw,g=r,o=r", 0o600, false, 0o644),
        ];
        for (m, cur, dir, want) in table {
            let got = parse(m).unwrap().resolve(cur, dir);
            assert_eq!(got, want, "{m} on {cur:o}: {got:o}");
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for m in ["u=rwz", "q+x", "", "u", "0999", "u=r,,"] {
            assert!(parse(m).is_none(), "{m}");
        }
    }
}
