#include "lightning/callbacks/callback.h"

#include "utilities/type_name.h"

namespace lightning {

std::string Callback::state_key() const { return detail::class_name(typeid(*this)); }

}  // namespace lightning
