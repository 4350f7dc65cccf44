"""leadclock's Chalice app: registrations only."""

from chalice.app import Chalice

from functions import (
    actions,
    activity,
    admin,
    api,
    board,
    bridge,
    digests,
    forms,
    lead_sms,
    links,
    metrics,
    rep_sms,
    replay,
    slack,
    stages,
    telephony,
    timers,
)

app = Chalice(app_name="leadclock")

app.register_blueprint(forms.bp)
app.register_blueprint(telephony.bp)
app.register_blueprint(api.bp)
app.register_blueprint(actions.bp)
app.register_blueprint(links.bp)
app.register_blueprint(activity.bp)
app.register_blueprint(slack.bp)
app.register_blueprint(lead_sms.bp)
app.register_blueprint(rep_sms.bp)
app.register_blueprint(bridge.bp)
app.register_blueprint(stages.bp)
app.register_blueprint(replay.bp)
app.register_blueprint(admin.bp)
app.register_blueprint(metrics.bp)
app.register_blueprint(board.bp)
app.register_blueprint(timers.bp)
app.register_blueprint(digests.bp)
