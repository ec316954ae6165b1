//! Who is in which conversation. By default users form disjoint groups
//! (consecutive runs of `size`); with `--groups N` there are N groups over the
//! same users, each user in about N * size / users of them, so that a 10k
//! groups scenario fits the connections one machine can hold.

/// Members of each group, as indices into the users.
pub(crate) fn groups(users: usize, size: usize, count: usize) -> Vec<Vec<u32>> {
    assert!(
        size >= 2 && size <= users,
        "group size {size} with {users} users"
    );
    let per_round = users / size;
    let mut out = Vec::with_capacity(count);
    let mut perm: Vec<u32> = (0..users as u32).collect();
    for g in 0..count {
        // Each round deals a fresh shuffle of the users into disjoint groups:
        // every user gets the same number of groups, and rounds differ.
        let (round, slot) = (g / per_round, g % per_round);
        if slot == 0 {
            shuffle(&mut perm, round as u64);
        }
        out.push(perm[slot * size..(slot + 1) * size].to_vec());
    }
    out
}

/// Fisher-Yates with splitmix64: deterministic per seed, no dependency.
fn shuffle(v: &mut [u32], seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn groups_have_distinct_members_and_spread_users_evenly() {
        let g = groups(2000, 10, 10_000);
        assert_eq!(g.len(), 10_000);
        let mut per_user = vec![0u32; 2000];
        for members in &g {
            assert_eq!(members.iter().collect::<HashSet<_>>().len(), 10);
            for &m in members {
                per_user[m as usize] += 1;
            }
        }
        assert!(per_user.iter().all(|&n| n == 50), "each user in 50 groups");
        let distinct: HashSet<Vec<u32>> = g
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.sort_unstable();
                m
            })
            .collect();
        assert!(distinct.len() > 9_990, "groups differ: {}", distinct.len());
    }

    #[test]
    fn deterministic() {
        assert_eq!(groups(30, 3, 25), groups(30, 3, 25));
    }
}
