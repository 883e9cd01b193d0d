# ONNX export and round trips (issue 15): the C host that runs an ONNX model from a host
# buffer (examples/embed/onnx_host.c, the PyTorch CNN of spec/fixtures/onnx_cnn.onnx on the
# first Fashion-MNIST test images), compared with examples/embed/onnx_expected.txt by
# `make embed-onnx-test` (run by test-extra). The round-trip specs read the test images too.
PKGS += dataset-fashion-mnist

.PHONY: embed-onnx-test

$(BUILD)/embed/onnx_host: examples/embed/onnx_host.c src/tensorslow.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -DTS_LUA_DIR='"$(CURDIR)/lua"' -DTS_C_DIR='"$(CURDIR)/$(BUILD)"' \
	  -DTS_SCRIPT='"$(CURDIR)/examples/embed/onnx_model.lua"' \
	  -DTS_ONNX_MODEL='"$(CURDIR)/spec/fixtures/onnx_cnn.onnx"' $< -o $@ $(LDFLAGS) $(HOST_LIBS)

embed-onnx-test: $(BUILD)/embed/onnx_host $(ONNX_MODULE)
	$(BUILD)/embed/onnx_host > $(BUILD)/embed/onnx_out.txt
	diff -u examples/embed/onnx_expected.txt $(BUILD)/embed/onnx_out.txt
	@echo "embed-onnx-test: ok"

test-extra:: embed-onnx-test
