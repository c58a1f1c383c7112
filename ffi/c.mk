# C side of the build: filled in by the C ABI work.
.PHONY: test-c
test-c:
	@echo "C suite: none yet"
