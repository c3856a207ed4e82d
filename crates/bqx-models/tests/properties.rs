//! Property tests of the input plumbing: row selection out of column-major data and the scaler.

use bqx_models::{Matrix, StandardScaler};
use proptest::prelude::*;

fn table() -> impl Strategy<Value = (usize, usize, Vec<f64>)> {
    (1usize..12, 1usize..6).prop_flat_map(|(rows, cols)| {
        (
            Just(rows),
            Just(cols),
            prop::collection::vec(-1e3f64..1e3, rows * cols),
        )
    })
}

proptest! {
    #[test]
    fn selecting_rows_from_column_major_matches_selecting_after(
        (rows, cols, data) in table(),
        picks in prop::collection::vec(0usize..1000, 0..20),
    ) {
        let idx: Vec<usize> = picks.iter().map(|p| p % rows).collect();
        let full = Matrix::from_col_major(rows, cols, &data).unwrap();
        let direct = Matrix::from_col_major_rows(rows, cols, &data, &idx).unwrap();
        prop_assert_eq!(&direct, &full.select_rows(&idx).unwrap());
        for (k, &i) in idx.iter().enumerate() {
            for j in 0..cols {
                prop_assert_eq!(direct.get(k, j), data[j * rows + i]);
            }
        }
    }

    #[test]
    fn standardized_training_columns_have_mean_0_and_std_1_or_are_0(
        (rows, cols, data) in table(),
    ) {
        let x = Matrix::from_col_major(rows, cols, &data).unwrap();
        let (s, z) = StandardScaler::fit_transform(&x).unwrap();
        for j in 0..cols {
            let c = z.column(j);
            let mean = c.iter().sum::<f64>() / rows as f64;
            let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64;
            let raw = x.column(j);
            if raw.iter().all(|&v| v == raw[0]) {
                prop_assert!(c.iter().all(|&v| v == 0.0));
                prop_assert_eq!(s.std()[j], 1.0);
            } else {
                prop_assert!(mean.abs() < 1e-9, "mean {}", mean);
                prop_assert!((var - 1.0).abs() < 1e-9, "var {}", var);
            }
        }
    }
}
