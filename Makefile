# The two commands a newcomer needs are `make run` and `make test`; the rest are their parts.
JOBS ?= $(shell nproc)
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
CMAKE_FLAGS ?=

.PHONY: run test setup build build-asan unit test-release test-sanitizers lint format bench model clean

run: setup build
	./$(BUILD_DIR)/fraudguard serve --config config/fraudguard.yaml

test: setup lint test-release test-sanitizers

setup:
	@bash scripts/setup.sh

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DFRAUDGUARD_SANITIZE="address;undefined" -DFRAUDGUARD_BUILD_BENCHMARKS=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_DIR) -j $(JOBS)

test-release: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-sanitizers: build-asan
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

lint:
	@bash scripts/check-format.sh

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

bench: build
	bash bench/run.sh

model: build
	bash scripts/train-default-model.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
