//! Numbered, append-only SQL migrations from `migrations/`, embedded at compile time.
//!
//! Each database keeps a `schema_version` table with the version, file name and SHA-256 of every
//! applied migration. Opening a database whose newest version is unknown to this build fails
//! (it was written by a newer bqx); a recorded hash that differs from the embedded file means a
//! migration was edited after release, which is refused too.

use sha2::{Digest, Sha256};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

macro_rules! migration {
    ($dir:literal, $version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../migrations/", $dir, "/", $name)),
        }
    };
}

/// Migrations of the DuckDB store (`bqx.duckdb`).
pub const STORE: &[Migration] = &[
    migration!("store", 1, "0001_bars.sql"),
    migration!("store", 2, "0002_features.sql"),
    migration!("store", 3, "0003_predictions.sql"),
    migration!("store", 4, "0004_feature_files.sql"),
    migration!("store", 5, "0005_fitted.sql"),
    migration!("store", 6, "0006_online.sql"),
];

/// Migrations of the SQLite run registry (`registry.sqlite`).
pub const REGISTRY: &[Migration] = &[
    migration!("registry", 1, "0001_runs.sql"),
    migration!("registry", 2, "0002_eval.sql"),
    migration!("registry", 3, "0003_training.sql"),
    migration!("registry", 4, "0004_online.sql"),
];

/// The SQL that creates the version table (same text for both engines).
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    sha256     VARCHAR NOT NULL,
    applied_at VARCHAR NOT NULL
)";

/// What an open found in a database's version table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: u32,
    pub name: String,
    pub sha256: String,
}

/// Checks the applied list against the embedded one and returns the migrations still to apply.
pub fn pending<'a>(
    db: &str,
    embedded: &'a [Migration],
    applied: &[Applied],
) -> Result<Vec<&'a Migration>, crate::StoreError> {
    let supported = embedded.last().map(|m| m.version).unwrap_or(0);
    if let Some(newest) = applied.iter().map(|a| a.version).max()
        && newest > supported
    {
        return Err(crate::StoreError::NewerSchema {
            db: db.to_string(),
            found: newest,
            supported,
        });
    }
    for a in applied {
        let m = embedded
            .iter()
            .find(|m| m.version == a.version)
            .ok_or_else(|| crate::StoreError::MigrationMismatch {
                db: db.to_string(),
                version: a.version,
                detail: format!("applied migration {} is unknown to this build", a.name),
            })?;
        if m.sha256() != a.sha256 {
            return Err(crate::StoreError::MigrationMismatch {
                db: db.to_string(),
                version: a.version,
                detail: format!(
                    "{} was changed after it was applied (migrations are append-only)",
                    m.name
                ),
            });
        }
    }
    Ok(embedded
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in migrations/<db>/ is embedded, numbered 1, 2, 3… without gaps, and its
    /// number matches its version.
    #[test]
    fn embedded_lists_match_the_directories() {
        for (dir, list) in [("store", STORE), ("registry", REGISTRY)] {
            let path = format!(
                "{}/../../migrations/{dir}",
                std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
            );
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".sql"))
                .collect();
            files.sort();
            let names: Vec<&str> = list.iter().map(|m| m.name).collect();
            assert_eq!(
                files, names,
                "migrations/{dir} and the embedded list differ"
            );
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            }
        }
    }

    #[test]
    fn newer_and_edited_schemas_are_refused() {
        let m = STORE[0];
        let ok = Applied {
            version: 1,
            name: m.name.into(),
            sha256: m.sha256(),
        };
        let all: Vec<Applied> = STORE
            .iter()
            .map(|m| Applied {
                version: m.version,
                name: m.name.into(),
                sha256: m.sha256(),
            })
            .collect();
        assert!(pending("store", STORE, &all).unwrap().is_empty());
        assert_eq!(
            pending("store", STORE, std::slice::from_ref(&ok))
                .unwrap()
                .len(),
            STORE.len() - 1
        );
        assert_eq!(pending("store", STORE, &[]).unwrap().len(), STORE.len());
        let newer = Applied {
            version: 99,
            name: "0099_future.sql".into(),
            sha256: "x".into(),
        };
        let err = pending("store", STORE, &[ok.clone(), newer]).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
        let edited = Applied {
            sha256: "0".repeat(64),
            ..ok
        };
        let err = pending("store", STORE, &[edited]).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
