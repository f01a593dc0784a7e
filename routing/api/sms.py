"""Text-to-112: Twilio's incoming-SMS webhook."""

from __future__ import annotations

from flask import Blueprint, Response, request

from siaga112.errors import ApiError
from siaga112.web import db, machine_endpoint, runtime
from routing.alarms import offers, sms

bp = Blueprint("sms_api", __name__)


@bp.post("/twilio/sms")
@machine_endpoint
def incoming_sms():
    """A text to 112 becomes an alarm; the sender is told at once, by TwiML, that help is coming."""
    query = request.query_string.decode("latin-1")
    if not sms.valid_signature(runtime(), request.path, query, request.form, request.headers.get("X-Twilio-Signature")):
        raise ApiError(403, "bad_signature", "The request is not signed by our Twilio account.")
    alarm, outcome = sms.take_text(db(), runtime(), request.form)
    extra = ""
    if outcome == "new":  # an unlocated text is answered with a link that shares the phone's position
        extra = offers.reply_sentence(runtime(), db(), alarm)
        db().commit()
    return Response(sms.answer_twiml(runtime(), outcome, extra), mimetype="text/xml")
