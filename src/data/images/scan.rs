//! Listing an image folder, as Keras' `image_dataset_from_directory` indexes one, without
//! opening a single image: what `expr check` needs, fast on 70,000 files.
//!
//! Classes are the sub-folders, sorted by name (Python's `sorted`, code point order);
//! each class's images are the files below its folder, at any depth, whose names end in
//! one of [`IMAGE_EXTENSIONS`] (in any case), ordered by folder then by name, as Keras
//! walks them. Two differences from Keras, both to spare a user a confusing failure:
//! names starting with `.` (`.ipynb_checkpoints/`, macOS's `._x.png`) are passed over,
//! and a class folder without images is an error rather than a class nothing is drawn from.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::FolderScan;
use crate::data::error::{DataError, DataResult};

/// The file name endings taken as images, compared without regard to case: Keras'
/// `ALLOWLIST_FORMATS`. Other files are passed over.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["bmp", "gif", "jpeg", "jpg", "png"];

/// Folders nested deeper than this below a class folder are not looked into: a bound on
/// the walk that no real data set comes near.
const MAX_DEPTH: usize = 64;

/// Lists the classes and image files of `dir` (see the module's comment).
pub fn scan_image_folder(dir: &Path) -> DataResult<FolderScan> {
    let mut classes: Vec<(String, PathBuf)> = Vec::new();
    for (name, path, kind) in list(dir, true)? {
        if kind == Kind::Folder {
            classes.push((name.to_string_lossy().into_owned(), path));
        }
    }
    if classes.is_empty() {
        return Err(DataError::NoClassFolders {
            dir: dir.to_path_buf(),
        });
    }
    classes.sort();
    let mut files = Vec::new();
    for (label, (_, folder)) in classes.iter().enumerate() {
        let found = class_images(folder)?;
        if found.is_empty() {
            return Err(DataError::EmptyClassFolder {
                dir: folder.clone(),
            });
        }
        let label =
            u32::try_from(label).unwrap_or_else(|_| unreachable!("a folder has < 2^32 entries"));
        files.extend(found.into_iter().map(|path| (path, label)));
    }
    Ok(FolderScan {
        dir: dir.to_path_buf(),
        classes: classes.into_iter().map(|(name, _)| name).collect(),
        files,
    })
}

impl FolderScan {
    /// The classes named in `classes`, in that order (Keras' `class_names`), with their
    /// images relabelled; the other sub-folders are left out. Every scanned class when
    /// `classes` is empty. A name with no sub-folder is an error naming the folder.
    pub fn only(self, classes: &[String]) -> DataResult<FolderScan> {
        if classes.is_empty() {
            return Ok(self);
        }
        let mut new_label = vec![None; self.classes.len()];
        for (label, name) in classes.iter().enumerate() {
            let Some(old) = self.classes.iter().position(|c| c == name) else {
                return Err(DataError::Contents {
                    path: self.dir.clone(),
                    place: String::new(),
                    problem: format!(
                        "has no class sub-folder `{name}` (it has {})",
                        self.classes.join(", ")
                    ),
                    help: Some(
                        "name the sub-folders in `classes = (...)` as they are spelled".into(),
                    ),
                });
            };
            new_label[old] =
                Some(u32::try_from(label).unwrap_or_else(|_| unreachable!("few classes")));
        }
        let mut files: Vec<(PathBuf, u32)> = self
            .files
            .into_iter()
            .filter_map(|(path, old)| new_label[old as usize].map(|label| (path, label)))
            .collect();
        // Class by class in the new order; a class's files keep their order.
        files.sort_by_key(|&(_, label)| label);
        Ok(FolderScan {
            dir: self.dir,
            classes: classes.to_vec(),
            files,
        })
    }
}

/// The images below one class folder, in Keras' order: by the folder holding them
/// (`sorted` over the walk's roots), then by name.
fn class_images(folder: &Path) -> DataResult<Vec<PathBuf>> {
    // (folder below the class folder, as Keras' root strings compare; file name; path)
    let mut found: Vec<(String, OsString, PathBuf)> = Vec::new();
    let mut pending = vec![(String::new(), folder.to_path_buf(), 0)];
    while let Some((relative, path, depth)) = pending.pop() {
        for (name, entry, kind) in list(&path, false)? {
            match kind {
                Kind::Folder if depth < MAX_DEPTH => {
                    let below = format!("{relative}/{}", name.to_string_lossy());
                    pending.push((below, entry, depth + 1));
                }
                Kind::File if is_image_name(&name) => {
                    found.push((relative.clone(), name, entry));
                }
                _ => {}
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

fn is_image_name(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| ext.eq_ignore_ascii_case(known))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Folder,
    File,
}

/// The entries of `dir` not starting with `.`, as folders or files. Symlinks are files
/// unless they point to a folder; a symlinked folder is followed only at the top
/// (`follow_folders`: the class folders), as Keras' walk does not follow links below.
fn list(dir: &Path, follow_folders: bool) -> DataResult<Vec<(OsString, PathBuf, Kind)>> {
    let unreadable = |e: &std::io::Error| DataError::UnreadableImageFolder {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let entries = fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::MissingImageFolder {
            dir: dir.to_path_buf(),
        },
        std::io::ErrorKind::NotADirectory => DataError::UnreadableImageFolder {
            dir: dir.to_path_buf(),
            reason: "it is not a folder".into(),
        },
        _ => unreadable(&e),
    })?;
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(&e))?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| unreadable(&e))?;
        let kind = if kind.is_dir() {
            Kind::Folder
        } else if kind.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            if !follow_folders {
                continue;
            }
            Kind::Folder
        } else {
            // Files, and anything else with an image's name: reading it says what it is.
            Kind::File
        };
        listed.push((name, path, kind));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
    }

    #[test]
    fn classes_sort_by_name_and_files_by_folder_then_name_as_keras_walks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "b/2.png",
            "b/10.PNG",
            "b/sub-x/1.jpg",
            "b/sub/z.jpeg",
            "b/sub/a.bmp",
            "B/x.gif",
            "a_1/q.png",
            "b/notes.txt",
            "b/.hidden.png",
            ".ipynb_checkpoints/c.png",
        ] {
            touch(&d.join(f));
        }
        touch(&d.join("loose.png"));
        let scan = scan_image_folder(d).unwrap();
        // Python's sorted(): upper case before lower case, `_` (0x5f) before `b`.
        assert_eq!(scan.classes, ["B", "a_1", "b"]);
        let names: Vec<(String, u32)> = scan
            .files
            .iter()
            .map(|(p, l)| (p.strip_prefix(d).unwrap().display().to_string(), *l))
            .collect();
        let expected = [
            ("B/x.gif", 0),
            ("a_1/q.png", 1),
            ("b/10.PNG", 2),
            ("b/2.png", 2),
            // Root `b/sub` sorts before `b/sub-x` ('' < '-'), as Keras' sorted walk.
            ("b/sub/a.bmp", 2),
            ("b/sub/z.jpeg", 2),
            ("b/sub-x/1.jpg", 2),
        ];
        let expected: Vec<(String, u32)> = expected
            .iter()
            .map(|(p, l)| ((*p).to_string(), *l))
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn only_image_endings_count_in_any_case() {
        for (name, image) in [
            ("a.png", true),
            ("a.JPG", true),
            ("a.Jpeg", true),
            ("a.bmp", true),
            ("a.gif", true),
            ("a.webp", false),
            ("a.tiff", false),
            ("png", false),
            ("a.png.txt", false),
        ] {
            assert_eq!(is_image_name(&OsString::from(name)), image, "{name}");
        }
    }
}
