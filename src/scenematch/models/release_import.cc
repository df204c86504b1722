// The converter runs with Debian's python3-torch (or $SCENEMATCH_PYTHON); its
// source is embedded so `scenematch import` needs no installed script.
#include "scenematch/models/release_import.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "scenematch/core/atomic_file.h"
#include "scenematch/core/tensor_pack.h"

extern char** environ;

namespace sm {
namespace {

namespace fs = std::filesystem;

const char* const kConverter = R"PY(# Converts an authors' checkpoint (torch.save, legacy or zip) into
# header.json + tensors.bin in OUT_DIR for `scenematch import`. Run with
# Debian's python3-torch. Only the names such checkpoints hold are unpickled.
import json
import pickle
import sys

import torch

SAFE = {('collections', 'OrderedDict'), ('argparse', 'Namespace'), ('torch._utils', '_rebuild_tensor_v2'),
        ('torch._utils', '_rebuild_parameter'), ('torch', 'Size')}


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in SAFE or (module in ('torch', 'torch.cuda') and name.endswith('Storage')):
            return super().find_class(module, name)
        raise pickle.UnpicklingError('refusing to unpickle %s.%s' % (module, name))


class RestrictedPickle:  # the pickle_module torch.load takes
    Unpickler = Unpickler

    @staticmethod
    def load(f, **kwargs):
        return Unpickler(f, **kwargs).load()


def plain(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and abs(v) != float('inf') else repr(v)
    if isinstance(v, bytes):  # Python 2 strings
        return v.decode('latin1')
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return {'unsupported_type': type(v).__name__}


def main(path, out_dir):
    try:
        ckpt = torch.load(path, map_location='cpu', pickle_module=RestrictedPickle, encoding='latin1')
    except Exception as e:  # the last stderr line is the reason scenematch reports
        sys.exit('cannot read it as a torch checkpoint (truncated, or not one): %s: %s' % (type(e).__name__, e))
    if not isinstance(ckpt, dict) or 'model' not in ckpt:
        sys.exit('not a training checkpoint: no \'model\' entry')
    model = ckpt['model']
    dicts = model if isinstance(model, (list, tuple)) else [model]
    header = {'keys': sorted(str(k) for k in ckpt), 'model_is_list': isinstance(model, (list, tuple)),
              'epoch': plain(ckpt.get('epoch')), 'best_rsum': plain(ckpt.get('best_rsum')),
              'Eiters': plain(ckpt.get('Eiters')), 'opt': None, 'model': []}
    opt = ckpt.get('opt')
    if opt is not None:
        header['opt'] = {str(k): plain(v) for k, v in (opt.items() if isinstance(opt, dict) else vars(opt).items())}
    offset = 0
    with open(out_dir + '/tensors.bin', 'wb') as blob:
        for d in dicts:
            if not isinstance(d, dict):
                sys.exit('\'model\' holds a %s, not a state_dict' % type(d).__name__)
            entries = []
            for name, t in d.items():
                if not torch.is_tensor(t):
                    sys.exit('state_dict entry %s is a %s, not a tensor' % (name, type(t).__name__))
                t = t.detach().cpu().contiguous()
                data = t.numpy().tobytes()
                entries.append({'name': name, 'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape),
                                'offset': offset, 'bytes': len(data)})
                blob.write(data)
                offset += len(data)
            header['model'].append(entries)
    with open(out_dir + '/header.json', 'w') as f:
        json.dump(header, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
)PY";

// A folder removed with everything in it when the import ends.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "scenematch-import.XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      fail("import: cannot create a temporary folder in ", fs::temp_directory_path().string());
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

// Runs the converter on `checkpoint`, writing header.json and tensors.bin into dir.
void run_converter(const std::string& checkpoint, const std::string& dir) {
  const std::string script = dir + "/convert.py", log = dir + "/stderr.txt";
  write_file_atomic(script, kConverter);
  const char* env = std::getenv("SCENEMATCH_PYTHON");
  const std::string python = env && *env ? env : "/usr/bin/python3";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args = {python, script, fs::absolute(checkpoint).string(), dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawn(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    fail("import: cannot run ", python, " (", std::strerror(err), "); the converter needs Python 3 with PyTorch: ",
         "apt-get install python3-torch (scripts/install-deps.sh), or set SCENEMATCH_PYTHON");
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string message = fs::exists(log) ? read_file(log) : "";
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const size_t last = message.rfind('\n');
  if (last != std::string::npos) message = message.substr(last + 1);
  if (message.find("No module named 'torch'") != std::string::npos)
    fail("import: ", python, " has no PyTorch; apt-get install python3-torch (scripts/install-deps.sh), or set ",
         "SCENEMATCH_PYTHON to a Python that has it");
  fail(checkpoint, ": ", message.empty() ? "the converter failed" : message);
}

// One state_dict of the release: name -> tensor, consumed as it is mapped.
struct StateDict {
  std::string module;  // e.g. "txt_enc", for errors
  std::map<std::string, torch::Tensor> tensors;
};

struct Release {
  std::string path;
  Json header;
  std::vector<StateDict> dicts;
  const Json& opt() const { return header["opt"]; }
};

Release read_release(const std::string& checkpoint, const std::string& dir, const std::vector<std::string>& modules) {
  Release r;
  r.path = checkpoint;
  r.header = Json::parse(read_file(dir + "/header.json"));
  const std::string blob = read_file(dir + "/tensors.bin");
  const Json& model = r.header["model"];
  if (model.size() != modules.size()) {
    std::string names;
    for (const auto& m : modules) names += (names.empty() ? "" : ", ") + m;
    fail(checkpoint, ": 'model' holds ", model.size(), " state_dict(s), this release has ", modules.size(), " (", names,
         "); is it another model's checkpoint?");
  }
  for (size_t i = 0; i < model.size(); ++i) {
    StateDict d;
    d.module = modules[i];
    for (const Json& e : model[i]) {
      std::string name = e["name"].get<std::string>();
      torch::Tensor t = tensor_from_entry(e, blob, cat(checkpoint, ": state_dict '", d.module, "'"));
      if (name.rfind("module.", 0) == 0) name = name.substr(7);  // saved from DataParallel
      d.tensors[name] = t;
    }
    r.dicts.push_back(std::move(d));
  }
  if (!r.header["opt"].is_object()) fail(checkpoint, ": no 'opt' (the training options) in the checkpoint");
  return r;
}

// Typed access to the checkpoint's opt, with errors naming the option.
template <class T>
T opt_value(const Release& r, const std::string& key) {
  const Json& opt = r.opt();
  auto it = opt.find(key);
  if (it == opt.end()) fail(r.path, ": opt has no '", key, "'; is it another model's checkpoint?");
  bool ok = std::is_same_v<T, bool>          ? it->is_boolean()
            : std::is_same_v<T, std::string> ? it->is_string()
            : std::is_integral_v<T>          ? it->is_number_integer()
                                             : it->is_number();
  if (!ok) fail(r.path, ": opt '", key, "' = ", it->dump(), " is not of the expected type");
  return it->get<T>();
}

template <class T>
void require_opt(const Release& r, const std::string& key, const T& expected, const char* why) {
  T v = opt_value<T>(r, key);
  if (v != expected)
    fail(r.path, ": opt '", key, "' = ", Json(v).dump(), " is not supported (", why, "; expected ",
         Json(expected).dump(), ")");
}

// Moves release tensors into the model's parameters, checking names and shapes.
class Mapper {
 public:
  Mapper(Release& r, Matcher& model) : r_(r) {
    for (auto& [name, t] : model_tensors(model)) targets_[name] = t;
  }
  // Release tensor `name` of state_dict `dict`, checked against `shape`.
  torch::Tensor take(size_t dict, const std::string& name, const std::vector<int64_t>& shape) {
    StateDict& d = r_.dicts[dict];
    auto it = d.tensors.find(name);
    if (it == d.tensors.end()) fail(r_.path, ": missing key '", d.module, ".", name, "'");
    torch::Tensor t = it->second;
    if (t.sizes().vec() != shape)
      fail(r_.path, ": key '", d.module, ".", name, "' has shape ", t.sizes(), ", expected ", torch::IntArrayRef(shape),
           " from the checkpoint's opt");
    d.tensors.erase(it);
    return t;
  }
  // Copies into our parameter `ours`, reshaped: the release keeps (K, 1) and
  // (h, 1) where ours are flat.
  void put(const std::string& ours, const torch::Tensor& value) {
    auto it = targets_.find(ours);
    if (it == targets_.end()) fail("import: the model has no parameter '", ours, "' (internal mapping error)");
    torch::NoGradGuard no_grad;
    it->second.copy_(value.reshape(it->second.sizes()));
    filled_.insert(ours);
  }
  torch::Tensor target(const std::string& ours) { return targets_.at(ours); }
  void mark(const std::string& ours) { filled_.insert(ours); }
  void move(size_t dict, const std::string& name, const std::vector<int64_t>& shape, const std::string& ours) {
    put(ours, take(dict, name, shape));
  }
  // Release keys the model ignores by design (checked, then dropped).
  void drop(size_t dict, const std::string& name, const std::vector<int64_t>& shape) { take(dict, name, shape); }
  // Every release key used, every parameter of ours set.
  void finish() {
    for (const auto& d : r_.dicts)
      if (!d.tensors.empty())
        fail(r_.path, ": unexpected key '", d.module, ".", d.tensors.begin()->first, "'",
             d.tensors.size() > 1 ? cat(" (and ", d.tensors.size() - 1, " more)") : "");
    for (const auto& [name, t] : targets_)
      if (!filled_.count(name)) fail("import: parameter '", name, "' was not set (internal mapping error)");
  }

 private:
  Release& r_;
  std::map<std::string, torch::Tensor> targets_;
  std::set<std::string> filled_;
};

// GRU weights of one layer, both directions (PyTorch and LibTorch share the names).
void move_gru(Mapper& m, size_t dict, const std::string& release, const std::string& ours, int64_t in, int64_t hidden,
              bool bidirectional) {
  for (std::string suffix : {std::string(""), std::string("_reverse")}) {
    if (!bidirectional && !suffix.empty()) continue;
    m.move(dict, release + ".weight_ih_l0" + suffix, {3 * hidden, in}, ours + ".weight_ih_l0" + suffix);
    m.move(dict, release + ".weight_hh_l0" + suffix, {3 * hidden, hidden}, ours + ".weight_hh_l0" + suffix);
    m.move(dict, release + ".bias_ih_l0" + suffix, {3 * hidden}, ours + ".bias_ih_l0" + suffix);
    m.move(dict, release + ".bias_hh_l0" + suffix, {3 * hidden}, ours + ".bias_hh_l0" + suffix);
  }
}

// weight_norm(Linear) out_1 / out_2 of a GSMN graph head.
// The model of `name` built from `config` with the release's training schedule
// (SCAN-family option names, shared by both releases), ready for its weights.
ModelBundle release_bundle(const Release& r, const std::string& name, Config config, const Vocab& vocab) {
  config["margin"] = opt_value<double>(r, "margin");
  config["grad_clip"] = opt_value<double>(r, "grad_clip");
  config["lr"] = opt_value<double>(r, "learning_rate");
  config["batch_size"] = opt_value<int64_t>(r, "batch_size");
  config["epochs"] = opt_value<int64_t>(r, "num_epochs");
  config["lr_update"] = opt_value<int64_t>(r, "lr_update");
  ModelBundle b;
  b.name = name;
  b.config = config;
  b.vocab = vocab;
  b.model = make_matcher(name, config, vocab);
  return b;
}

void move_head(Mapper& m, size_t dict, const std::string& ours, int64_t hidden) {
  m.move(dict, "out_1.weight_v", {hidden, hidden}, ours + ".fc1.v");
  m.move(dict, "out_1.weight_g", {hidden, 1}, ours + ".fc1.g");
  m.move(dict, "out_1.bias", {hidden}, ours + ".fc1.bias");
  m.move(dict, "out_2.weight_v", {1, hidden}, ours + ".fc2.v");
  m.move(dict, "out_2.weight_g", {1, 1}, ours + ".fc2.g");
  m.move(dict, "out_2.bias", {1}, ours + ".fc2.bias");
}

ModelBundle import_gsmn(Release& r, const Vocab& vocab) {
  // Options the release's code paths depend on; anything else was never run by the authors' scripts.
  require_opt<bool>(r, "bi_gru", true, "the released models use the bidirectional GRU");
  require_opt<int64_t>(r, "num_layers", 1, "one GRU layer");
  require_opt<bool>(r, "no_imgnorm", false, "region vectors are L2-normalised");
  require_opt<bool>(r, "no_txtnorm", false, "word vectors are L2-normalised");
  require_opt<int64_t>(r, "out_dim", 1, "the graph heads score one value");
  const int64_t embed = opt_value<int64_t>(r, "embed_size"), blocks = opt_value<int64_t>(r, "num_block");
  const int64_t word_dim = opt_value<int64_t>(r, "word_dim"), img_dim = opt_value<int64_t>(r, "img_dim");
  const int64_t hidden = opt_value<int64_t>(r, "hid_dim"), vocab_size = opt_value<int64_t>(r, "vocab_size");
  const double lambda = opt_value<double>(r, "lambda_softmax");
  const bool sparse = opt_value<bool>(r, "is_sparse");
  if (blocks <= 0 || embed % blocks != 0)
    fail(r.path, ": opt 'num_block' = ", blocks, " does not divide 'embed_size' = ", embed);
  require_opt<int64_t>(r, "feat_dim", blocks, "the matching vector has one value per block");
  if (!(lambda > 0)) fail(r.path, ": opt 'lambda_softmax' = ", lambda, " must be positive");
  if (vocab.size() != vocab_size)
    fail(r.path, ": opt 'vocab_size' = ", vocab_size, " but the vocabulary has ", vocab.size(), " words");
  // The kernel count is the constructor's default, not an option: read it from the keys.
  int64_t kernels = 0;
  while (r.dicts[2].tensors.count(cat("graph_convolution_1.conv_weights.", kernels, ".weight"))) ++kernels;
  if (kernels == 0) fail(r.path, ": missing key 'i2t_match_G.graph_convolution_1.conv_weights.0.weight'");
  if (hidden % kernels != 0)
    fail(r.path, ": opt 'hid_dim' = ", hidden, " is not a multiple of the ", kernels, " kernels");
  const int64_t kernel_dim = hidden / kernels;

  // The release's variant (own-vector convolution, clipped attention, no
  // activation); the checkpoint's opt and keys then set the sizes.
  Config c = matcher_preset("gsmn", "release");
  c["graph"] = sparse ? "sparse" : "dense";
  c["embed_size"] = embed;
  c["word_dim"] = word_dim;
  c["feature_dim"] = img_dim;
  c["num_blocks"] = blocks;
  c["gcn_kernels"] = kernels;
  c["gcn_kernel_dim"] = kernel_dim;
  c["mlp_hidden"] = hidden;
  c["lambda"] = lambda;
  c["attention"] = "clipped";
  c["gcn_activation"] = "none";
  c["max_violation"] = opt_value<bool>(r, "max_violation");
  ModelBundle b = release_bundle(r, "gsmn", c, vocab);
  Mapper m(r, *b.model);
  m.move(0, "fc.weight", {embed, img_dim}, "regions.fc.weight");
  m.move(0, "fc.bias", {embed}, "regions.fc.bias");
  m.move(1, "embed.weight", {vocab_size, word_dim}, "words.embed.weight");
  move_gru(m, 1, "rnn", "words.gru", word_dim, embed, true);
  // Visual graph: Gaussian kernels (K, 1) and per-kernel W_k (o, t).
  for (const char* p : {"rho", "theta"}) {
    m.move(2, cat("graph_convolution_1.mean_", p), {kernels, 1}, cat("mu_", p));
    m.move(2, cat("graph_convolution_1.precision_", p), {kernels, 1}, cat("sigma_", p));
  }
  torch::NoGradGuard no_grad;
  auto visual = m.target("visual_gcn"), text_w = m.target("text_gcn.weight"), text_b = m.target("text_gcn.bias");
  for (int64_t k = 0; k < kernels; ++k) {
    visual[k].copy_(m.take(2, cat("graph_convolution_1.conv_weights.", k, ".weight"), {kernel_dim, blocks}));
    const std::string conv = cat("graph_convolution_3.conv_weights.", k);
    text_w.slice(0, k * kernel_dim, (k + 1) * kernel_dim).copy_(m.take(3, conv + ".weight", {kernel_dim, blocks}));
    text_b.slice(0, k * kernel_dim, (k + 1) * kernel_dim).copy_(m.take(3, conv + ".bias", {kernel_dim}));
  }
  for (const char* p : {"visual_gcn", "text_gcn.weight", "text_gcn.bias"}) m.mark(p);
  // The text kernels' scalars multiply every edge weight of their kernel
  // before the normalisation over the neighbours, so they cancel.
  m.drop(3, "graph_convolution_3.params", {kernels, 1});
  move_head(m, 2, "visual_head", hidden);
  move_head(m, 3, "text_head", hidden);
  m.finish();
  return b;
}

// A GPO's bi-GRU over 32-d positional encodings and its scoring linear.
void move_gpo(Mapper& m, size_t dict, const std::string& ours) {
  move_gru(m, dict, "gpool.gru", ours + ".gru", 32, 32, true);
  m.move(dict, "gpool.linear.weight", {1, 32}, ours + ".linear.weight");
}

ModelBundle import_vse_infty(Release& r, Vocab vocab) {
  require_opt<std::string>(r, "precomp_enc_type", "basic", "the BUTD region encoder (FC + MLP) is imported");
  require_opt<int64_t>(r, "num_layers", 1, "one GRU layer");
  require_opt<bool>(r, "no_imgnorm", false, "image embeddings are L2-normalised");
  require_opt<bool>(r, "no_txtnorm", false, "caption embeddings are L2-normalised");
  const int64_t embed = opt_value<int64_t>(r, "embed_size"), word_dim = opt_value<int64_t>(r, "word_dim");
  const int64_t img_dim = opt_value<int64_t>(r, "img_dim"), vocab_size = opt_value<int64_t>(r, "vocab_size");
  if (embed % 2 != 0) fail(r.path, ": opt 'embed_size' = ", embed, " must be even (the MLP's hidden width is half)");
  vocab.add("<mask>");  // the authors' training script appends it to the released vocabulary
  if (vocab.size() != vocab_size)
    fail(r.path, ": opt 'vocab_size' = ", vocab_size, " but the vocabulary with <mask> has ", vocab.size(), " words");

  Config c = matcher_preset("vse_infty", "paper");
  c["embed_size"] = embed;
  c["word_dim"] = word_dim;
  c["feature_dim"] = img_dim;
  c["sum_violation_epochs"] = opt_value<int64_t>(r, "vse_mean_warmup_epochs");
  ModelBundle b = release_bundle(r, "vse_infty", c, vocab);
  Mapper m(r, *b.model);
  const int64_t half = embed / 2;
  m.move(0, "fc.weight", {embed, img_dim}, "images.fc.weight");
  m.move(0, "fc.bias", {embed}, "images.fc.bias");
  m.move(0, "mlp.layers.0.weight", {half, img_dim}, "mlp_in.weight");
  m.move(0, "mlp.layers.0.bias", {half}, "mlp_in.bias");
  m.move(0, "mlp.layers.1.weight", {embed, half}, "mlp_out.weight");
  m.move(0, "mlp.layers.1.bias", {embed}, "mlp_out.bias");
  for (const char* p : {"weight", "bias", "running_mean", "running_var"})
    m.move(0, cat("mlp.bns.0.", p), {half}, cat("mlp_bn.", p));
  m.move(0, "mlp.bns.0.num_batches_tracked", {}, "mlp_bn.num_batches_tracked");
  // The second batch norm is constructed but its forward never applies it.
  for (const char* p : {"weight", "bias", "running_mean", "running_var"}) m.drop(0, cat("mlp.bns.1.", p), {embed});
  m.drop(0, "mlp.bns.1.num_batches_tracked", {});
  move_gpo(m, 0, "image_pool");
  m.move(1, "embed.weight", {vocab_size, word_dim}, "words.embed.weight");
  move_gru(m, 1, "rnn", "words.gru", word_dim, embed, true);
  move_gpo(m, 1, "text_pool");
  m.finish();
  return b;
}

}  // namespace

void convert_release(const std::string& checkpoint, const std::string& out_dir) {
  if (!fs::exists(checkpoint)) fail(checkpoint, ": cannot open (no such file?)");
  run_converter(checkpoint, out_dir);
}

ImportedModel import_converted(const ImportOptions& options, const std::string& converted_dir) {
  const bool gsmn = options.from == "gsmn";
  if (!gsmn && options.from != "vse_infty") fail("import: --from must be gsmn or vse_infty, got '", options.from, "'");
  if (options.vocab.empty())
    fail("import --from ", options.from, ": --vocab is required (the checkpoint holds no vocabulary)");
  Vocab vocab = Vocab::load(options.vocab);
  Release r = read_release(options.checkpoint, converted_dir,
                           gsmn ? std::vector<std::string>{"img_enc", "txt_enc", "i2t_match_G", "t2i_match_G"}
                                : std::vector<std::string>{"img_enc", "txt_enc"});
  ImportedModel out;
  out.bundle = gsmn ? import_gsmn(r, vocab) : import_vse_infty(r, vocab);
  out.provenance = {{"from", options.from},
                    {"checkpoint", options.checkpoint},
                    {"epoch", r.header["epoch"]},
                    {"best_rsum", r.header["best_rsum"]},
                    {"Eiters", r.header["Eiters"]}};
  return out;
}

ImportedModel import_release(const ImportOptions& options) {
  TempDir dir;
  convert_release(options.checkpoint, dir.path);
  return import_converted(options, dir.path);
}

}  // namespace sm
