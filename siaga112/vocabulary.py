"""The codes people read as words: every vocabulary whose code is chosen at run time.

A page shows `category.<code>`, `unit_kind.<code>`, ... through `siaga112.i18n.word`; the ids
are marked here (`N_`) so that Babel's extraction keeps them in the catalogue although no line
of code names them literally. A code a centre adds (a category in its routing rules) and the
catalogue lacks is shown by the rules' own label, else as the code itself.
"""

from __future__ import annotations

from siaga112.i18n import N_

# Incident categories of the shipped routing rules, and the IVR's service choices.
CATEGORIES = [
    N_("category.crime"), N_("category.fire"), N_("category.medical"), N_("category.traffic_accident"),
    N_("category.flood"), N_("category.landslide"), N_("category.earthquake"), N_("category.disaster"),
    N_("category.domestic_violence"), N_("category.public_order"), N_("category.fallen_tree"),
    N_("category.power_outage"), N_("category.road_damage"), N_("category.general"), N_("category.police"),
    N_("category.ambulance"), N_("category.sos"),
]
AGENCIES = [
    N_("agency.police"), N_("agency.police_ppa"), N_("agency.satlantas"), N_("agency.damkar"), N_("agency.psc119"),
    N_("agency.dishub"), N_("agency.bpbd"), N_("agency.tni"), N_("agency.dp3a"), N_("agency.satpolpp"),
    N_("agency.dlh"), N_("agency.pln"), N_("agency.pupr"),
]
UNIT_KINDS = [
    N_("unit_kind.ambulance"), N_("unit_kind.car"), N_("unit_kind.chainsaw_crew"), N_("unit_kind.fire_engine"),
    N_("unit_kind.motorcycle"), N_("unit_kind.patrol"), N_("unit_kind.rescue"), N_("unit_kind.service_van"),
    N_("unit_kind.tow_truck"), N_("unit_kind.truck"), N_("unit_kind.water_tanker"),
]
UNIT_STATUSES = [
    N_("unit_status.available"), N_("unit_status.dispatched"), N_("unit_status.on_scene"), N_("unit_status.off_duty"),
]
INCIDENT_STATUSES = [
    N_("status.new"), N_("status.dispatched"), N_("status.on_scene"), N_("status.resolved"), N_("status.closed"),
    N_("status.false_report"),
]
CALL_STATES = [N_("state.ivr"), N_("state.queued"), N_("state.answered"), N_("state.completed"), N_("state.abandoned")]
ALARM_KINDS = [
    N_("alarm_kind.sos"), N_("alarm_kind.panic"), N_("alarm_kind.duress"), N_("alarm_kind.holdup"),
    N_("alarm_kind.fire"), N_("alarm_kind.gas"), N_("alarm_kind.heat"), N_("alarm_kind.medical"),
    N_("alarm_kind.emergency"), N_("alarm_kind.burglary"), N_("alarm_kind.panel_offline"), N_("alarm_kind.text"),
    N_("alarm_kind.crime"), N_("alarm_kind.accident"),
]
ALARM_SOURCES = [N_("alarm_source.sos"), N_("alarm_source.button"), N_("alarm_source.panel"), N_("alarm_source.sms")]
ALARM_STATES = [N_("alarm_state.open"), N_("alarm_state.acknowledged"), N_("alarm_state.closed")]
FIX_SOURCES = [
    N_("fix_source.aml"), N_("fix_source.pidf-lo"), N_("fix_source.cell"), N_("fix_source.app"),
    N_("fix_source.manual"), N_("fix_source.link"), N_("fix_source.speech"),
]
# How a keyword was heard in a transcript (recordings/keywords.py).
KEYWORD_HOW = [N_("keyword_how.exact"), N_("keyword_how.similar"), N_("keyword_how.sound"), N_("keyword_how.spotted")]
ROLES = [N_("role.calltaker"), N_("role.dispatcher"), N_("role.supervisor"), N_("role.admin")]
AGENT_STATES = [N_("sv.status.available"), N_("sv.status.on_call"), N_("sv.status.break"), N_("sv.status.offline")]
RECORDING_KINDS = [N_("sv.rec.kind.statement"), N_("sv.rec.kind.full")]
RECORDING_STATES = [
    N_("sv.rec.state.expected"), N_("sv.rec.state.ok"), N_("sv.rec.state.missing"), N_("sv.rec.state.empty"),
    N_("sv.rec.state.truncated"), N_("sv.rec.state.damaged"), N_("sv.rec.state.removed"),
]
CALL_STATES_SUPERVISOR = [
    N_("sv.call_state.ivr"), N_("sv.call_state.queued"), N_("sv.call_state.answered"),
    N_("sv.call_state.completed"), N_("sv.call_state.abandoned"),
]
MONITOR_MODES = [N_("sv.monitor.started.listen"), N_("sv.monitor.started.whisper"), N_("sv.monitor.started.barge")]
TELEPHONY_ERRORS = [
    N_("sv.ami.ami_not_configured"), N_("sv.ami.ami_unreachable"), N_("sv.ami.ami_login_failed"),
    N_("sv.ami.no_phone"), N_("sv.ami.not_connected"), N_("sv.ami.number_withheld"), N_("sv.ami.number_invalid"),
    N_("sv.ami.ami_refused"),
]
APPEAL_STATES = [N_("appeal_state.pending"), N_("appeal_state.granted"), N_("appeal_state.refused")]
