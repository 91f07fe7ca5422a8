//! Race-free writes, shared by every module that writes, chmods, chowns or renames on a host.
//!
//! Root must never act through a path that a less privileged user can change under it. So the
//! shell never acts on `DIR/name`: `plumb_cd` walks into DIR one component at a time from `/`
//! (refusing symlinks in directories others can write, and checking with `pwd -P` that what it
//! entered is what it asked for), and then everything happens relative to that working directory,
//! which is an inode, not a path. Files are created with `O_EXCL` under a random name (`set -C`),
//! held open on fd 3, and chowned/chmodded through `/dev/fd/3` (the very inode opened, whatever
//! happens to its name), then renamed into place; the rename is checked and the directory synced.

use super::args::Getter;
use crate::error::Result;
use crate::shell::quote;
use std::hash::{BuildHasher, Hasher};

/// The shell functions every write uses; a script starts with `HEAD` and then calls them, each
/// operation in its own `( … )` subshell so its `cd` and fd 3 end with it.
pub(crate) const HEAD: &str = r#"set -e
plumb_uid=$(id -u)
plumb_die() { _f=$1; shift; printf "plumb: $_f\n" "$@" >&2; exit 1; }
plumb_trusted() {
  set -- $(stat -c '%u %a' -- .)
  [ "$1" = 0 ] || [ "$1" = "$plumb_uid" ] || return 1
  case $2 in *[2367]? | *[2367]) return 1 ;; esac
}
plumb_cd() {
  _p=$1 _mk=${2-} _links=0
  cd /
  _cur=/
  while :; do
    while :; do case $_p in /*) _p=${_p#/} ;; *) break ;; esac; done
    [ -n "$_p" ] || break
    case $_p in */*) _c=${_p%%/*}; _p=${_p#*/} ;; *) _c=$_p; _p= ;; esac
    case $_c in
      .) continue ;;
      ..) _p=${_cur%/*}/$_p; cd /; _cur=/; continue ;;
    esac
    if plumb_trusted; then _tr=1; else _tr=; fi
    if [ -L "$_c" ]; then
      [ -n "$_tr" ] || plumb_die '%s: %s is a symlink in a directory that %s (or others) can write; refusing to follow it' "$1" "${_cur%/}/$_c" "$(stat -c %U -- .)"
      _links=$((_links + 1))
      [ "$_links" -le 40 ] || plumb_die '%s: too many levels of symbolic links' "$1"
      _l=$(readlink -- "$_c"; echo x)
      _l=${_l%?x}
      case $_l in /*) cd /; _cur=/ ;; esac
      _p=$_l/$_p
      continue
    fi
    if [ -n "$_mk" ] && [ ! -e "$_c" ]; then mkdir -- "$_c" || [ -d "$_c" ]; fi
    cd -P -- "$_c" || plumb_die '%s: cannot enter %s' "$1" "${_cur%/}/$_c"
    _new=$(pwd -P)
    [ -n "$_tr" ] || [ "$_new" = "${_cur%/}/$_c" ] || plumb_die '%s: %s was replaced while plumb entered it' "$1" "${_cur%/}/$_c"
    _cur=$_new
  done
  if plumb_trusted; then plumb_tr=1; else plumb_tr=; fi
}
plumb_own() {
  [ -z "$1" ] || chown -- "$1" "$4"
  [ -z "$2" ] || chgrp -- "$2" "$4"
  [ -z "$3" ] || chmod -- "$3" "$4"
}
plumb_hold() {
  { [ -f "./$1" ] || [ -d "./$1" ]; } && [ ! -L "./$1" ] || plumb_die '%s is no longer a file or directory' "$2"
  exec 3< "./$1"
  [ ! -L "./$1" ] && [ "./$1" -ef /dev/fd/3 ] || plumb_die '%s was replaced while plumb opened it' "$2"
  [ -n "$plumb_tr" ] || [ -d /dev/fd/3 ] || [ "$(stat -L -c %h /dev/fd/3)" = 1 ] || plumb_die '%s has other hard links and others can write its directory; refusing to change it' "$2"
}
plumb_open() {
  t=$1
  trap 'exit 129' HUP INT TERM PIPE
  trap 'rm -f -- "$t"' EXIT
  _um=$(umask)
  umask 077
  set -C
  exec 3> "$t"
  set +C
  umask "$_um"
  [ -f /dev/fd/3 ] && [ "$(stat -L -c '%u %h %s' /dev/fd/3)" = "$plumb_uid 1 0" ] || plumb_die '%s: the temp file was replaced' "$2"
}
plumb_put() {
  mv -fT -- "$t" "$1"
  trap - EXIT
  [ ! -L "$1" ] && [ "$1" -ef /dev/fd/3 ] || plumb_die '%s was replaced during the write' "$2"
  sync .
}
"#;

/// A random name for a temp file or link in the target directory (the kernel's `O_EXCL` makes
/// a collision fail; randomness makes it unguessable before it exists).
pub(crate) fn temp_name(prefix: &str) -> String {
    let a = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(a);
    format!(".plumb-{prefix}{:016x}", h.finish())
}

/// `(parent directory, name)` of an absolute path.
pub(crate) fn split(path: &str) -> (String, String) {
    match path.rsplit_once('/') {
        Some(("", n)) => ("/".into(), n.into()),
        Some((d, n)) => (d.into(), n.into()),
        None => (".".into(), path.into()),
    }
}

/// Owner/group arguments are names as `useradd` takes them, or numeric ids: never options.
pub(crate) fn check_owner(a: &Getter, key: &str) -> Result<Option<String>> {
    let v = a.opt_str(key)?;
    if let Some(v) = &v {
        super::account_name::check_name(a, key, v)?;
    }
    Ok(v)
}

/// Shell that sets owner, group and then mode (chmod last: chown clears setuid/setgid) of an
/// existing file or directory `path`, acting on the inode reached safely, never on the path.
pub(crate) fn set_attrs(
    path: &str,
    is_dir: bool,
    owner: Option<&str>,
    group: Option<&str>,
    mode: Option<u32>,
) -> String {
    let args = format!(
        "{} {} {}",
        quote(owner.unwrap_or("")),
        quote(group.unwrap_or("")),
        quote(&mode.map(|m| format!("{m:04o}")).unwrap_or_default())
    );
    if is_dir {
        format!("( plumb_cd {}\nplumb_own {args} . )", quote(path))
    } else {
        let (dir, name) = split(path);
        format!(
            "( plumb_cd {}\nplumb_hold {} {}\nplumb_own {args} /dev/fd/3 )",
            quote(&dir),
            quote(&name),
            quote(path)
        )
    }
}

/// Shell that creates directory `path` (and missing parents), then sets its attributes.
pub(crate) fn make_dir(
    path: &str,
    owner: Option<&str>,
    group: Option<&str>,
    mode: Option<u32>,
) -> String {
    format!(
        "( plumb_cd {} mk\nplumb_own {} {} {} . )",
        quote(path),
        quote(owner.unwrap_or("")),
        quote(group.unwrap_or("")),
        quote(&mode.map(|m| format!("{m:04o}")).unwrap_or_default())
    )
}

/// Shell that removes `path` (`rm -rf`) from inside its parent, reached safely.
pub(crate) fn remove(path: &str) -> String {
    let (dir, name) = split(path);
    format!("( plumb_cd {}\nrm -rf -- ./{} )", quote(&dir), quote(&name))
}

/// Shell that points symlink `path` at `src`: a new link under a random name, renamed over.
pub(crate) fn link(path: &str, src: &str) -> String {
    let (dir, name) = split(path);
    let t = temp_name("link-");
    format!(
        "( plumb_cd {d}\nln -sT -- {s} {t}\nmv -fT -- {t} {n} || {{ rm -f -- {t}; exit 1; }}\n\
         _l=$(readlink -- {n}; echo x)\n[ \"${{_l%?x}}\" = {s} ] || plumb_die '%s was replaced during the write' {p}\nsync . )",
        d = quote(&dir),
        s = quote(src),
        n = quote(&format!("./{name}")),
        p = quote(path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_random_and_plain() {
        let (a, b) = (temp_name(""), temp_name(""));
        assert_ne!(a, b);
        assert_eq!(quote(&a), a);
        assert_eq!(split("/etc/x"), ("/etc".into(), "x".into()));
        assert_eq!(split("/x"), ("/".into(), "x".into()));
    }

    #[test]
    fn attrs_chmod_last_and_by_inode() {
        let s = set_attrs("/srv/a b", false, Some("app"), None, Some(0o4755));
        assert_eq!(
            s,
            "( plumb_cd /srv\nplumb_hold 'a b' '/srv/a b'\nplumb_own app '' 4755 /dev/fd/3 )"
        );
    }
}
