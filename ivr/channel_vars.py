"""Every channel variable and dialplan function the FastAGI steps read or set, in one place.

The shipped dialplan (`config/asterisk/extensions.conf`) and these names must agree; a name
spelled twice is a name that will one day be spelled differently.
"""

# --- Set by the IVR for the dialplan ---------------------------------------------------
# The call's id in Siaga112. The dialplan passes it on to the member's leg as
# `__SIAGA_CALL_ID` (variable inheritance), where `agent-connected` and `call-ended` read it.
SIAGA_CALL_ID = "SIAGA_CALL_ID"
# Queue priority for Queue(): higher is answered first (Asterisk honours it on join).
QUEUE_PRIO = "QUEUE_PRIO"
# The caller's service choice ("police", "fire", "medical", "disaster") or empty.
SIAGA_SERVICE = "SIAGA_SERVICE"
# The caller channel's uniqueid, set (inherited, `__`) only when something of the call waits in
# the call journal: `agent-connected` on the call-taker's leg keeps its answer behind it.
SIAGA_UNIQUEID_INHERITED = "__SIAGA_UNIQUEID"
SIAGA_UNIQUEID = "SIAGA_UNIQUEID"

# --- Read by the IVR ---------------------------------------------------------------------
CALLERID_NUM = "CALLERID(num)"
CALLERID_NAME = "CALLERID(name)"
# The SIP Geolocation header (RFC 6442): `<cid:...>` means the PIDF-LO travels by value in the
# INVITE body; `<https:...>` would be by reference, which the IVR does not fetch.
GEOLOCATION_HEADER = "PJSIP_HEADER(read,Geolocation)"
# The serving cell as the IMS core passes it (3GPP TS 24.229 P-Access-Network-Info).
ACCESS_NETWORK_INFO_HEADER = "PJSIP_HEADER(read,P-Access-Network-Info)"
# The PIDF-LO body of the INVITE, filled by the dialplan. No dialplan function returns a SIP
# body, and a channel variable travels in one AGI reply line, so a multi-line XML document
# cannot pass as is: the SBC copies it base64-encoded into a header and the dialplan sets
# `Set(SIAGA_PIDF_LO=${PJSIP_HEADER(read,X-PIDF-LO)})` (config/asterisk/extensions.conf).
# A value that starts with "<" is taken as single-line XML.
PIDF_LO_BODY = "SIAGA_PIDF_LO"

# --- Read on the call-taker's leg (Queue() member hook) ----------------------------------
CONNECTEDLINE_NUM = "CONNECTEDLINE(num)"
MEMBERINTERFACE = "MEMBERINTERFACE"
QUEUENAME = "QUEUENAME"

# --- Read from the `h` extension ---------------------------------------------------------
DIALSTATUS = "DIALSTATUS"
