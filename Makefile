# The two commands of the README. Both install what is missing first (scripts/setup.sh).
.PHONY: run test setup lint fmt bench release

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

lint:
	cargo fmt --all --check
	RUSTFLAGS="--cfg erase_components" cargo clippy --workspace --exclude frontend --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench:
	scripts/bench.sh

# The production build (binary + site folder, wasm-opt applied): README, "Shipping to production".
release: setup
	scripts/release.sh
