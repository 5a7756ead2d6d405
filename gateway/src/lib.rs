//! gateway: skeleton; the gateway issue fills it in.
