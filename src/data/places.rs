//! Where the built-in data sets (`mnist`, `cifar10`) are looked for: `$EXPR_DATA`, else the
//! user cache, else mirrors (each data set's own variable overrides its default mirrors).

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::{DataError, DataResult};

/// A folder holding `mnist/`, `cifar10/`; when set, nothing else is looked at.
pub const DATA_ENV: &str = "EXPR_DATA";

/// `$EXPR_DATA`, resolved against the current directory when relative; `None` when unset or empty.
pub fn data_dir_from_env() -> Option<PathBuf> {
    let dir = PathBuf::from(env::var_os(DATA_ENV).filter(|v| !v.is_empty())?);
    match env::current_dir() {
        Ok(cwd) if dir.is_relative() => Some(cwd.join(dir)),
        _ => Some(dir),
    }
}

/// `$XDG_CACHE_HOME/expr/datasets/<name>`, else `~/.cache/expr/datasets/<name>`.
pub fn dataset_cache_dir(name: &str) -> DataResult<PathBuf> {
    cache_dir_from(env::var_os("XDG_CACHE_HOME"), env::var_os("HOME"), name)
}

/// The base URLs in `var` when it is set: separated by commas or whitespace; an empty list
/// is an error, not "no download".
pub fn mirror_list_from_env(var: &'static str) -> DataResult<Option<Vec<String>>> {
    env::var_os(var)
        .map(|list| parse_mirror_list(&list.to_string_lossy(), var))
        .transpose()
}

fn parse_mirror_list(list: &str, var: &'static str) -> DataResult<Vec<String>> {
    let urls: Vec<String> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        return Err(DataError::EmptyMirrorList { var });
    }
    Ok(urls)
}

/// The XDG rule: a relative or empty `XDG_CACHE_HOME` is ignored, as the spec says.
fn cache_dir_from(
    xdg: Option<OsString>,
    home: Option<OsString>,
    name: &str,
) -> DataResult<PathBuf> {
    let base = match xdg.filter(|v| Path::new(v).is_absolute()) {
        Some(xdg) => PathBuf::from(xdg),
        None => {
            let home = home
                .filter(|v| !v.is_empty())
                .ok_or(DataError::NoCacheDir)?;
            PathBuf::from(home).join(".cache")
        }
    };
    Ok(base.join("expr").join("datasets").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_list_splits_on_commas_and_whitespace() {
        let urls = parse_mirror_list(" http://a/,http://b/  http://c/\n", "V").unwrap();
        assert_eq!(urls, ["http://a/", "http://b/", "http://c/"]);
        assert!(matches!(
            parse_mirror_list(" , ", "V"),
            Err(DataError::EmptyMirrorList { var: "V" })
        ));
    }

    #[test]
    fn cache_dir_prefers_an_absolute_xdg_cache_home() {
        let dir = cache_dir_from(Some("/x/cache".into()), Some("/home/u".into()), "mnist");
        assert_eq!(dir.unwrap(), Path::new("/x/cache/expr/datasets/mnist"));
        let dir = cache_dir_from(Some("rel".into()), Some("/home/u".into()), "cifar10");
        assert_eq!(
            dir.unwrap(),
            Path::new("/home/u/.cache/expr/datasets/cifar10")
        );
        assert!(matches!(
            cache_dir_from(None, None, "mnist"),
            Err(DataError::NoCacheDir)
        ));
    }
}
