// The echo service as a civitas module: what the gateway adds on top of gRPC is the difference
// between this and echo_server.
#include "civitas/bench/v1/echo.pb.h"
#include "civitas/module.h"

namespace echo {

class Echo {
 public:
  static civitas::Status Create(civitas::City, std::unique_ptr<Echo>* out) {
    *out = std::make_unique<Echo>();
    return civitas::OkStatus();
  }
  civitas::Status Call(civitas::Call&, const civitas::bench::v1::EchoRequest& req,
                       civitas::bench::v1::EchoResponse* resp) {
    resp->set_payload(req.payload());
    return civitas::OkStatus();
  }
};

}  // namespace echo

CIVITAS_MODULE(civitas::ModuleBuilder<echo::Echo>("civitas.bench.echo", "1.0.0",
                                                  &echo::Echo::Create)
                   .Service("civitas.bench.v1.EchoService")
                   .Unary("Echo", civitas::Role::kAnonymous, &echo::Echo::Call))
