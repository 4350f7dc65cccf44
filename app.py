"""leadclock's Chalice app: registrations only."""

from chalice.app import Chalice

from functions import admin, api, forms, replay, telephony

app = Chalice(app_name="leadclock")

app.register_blueprint(forms.bp)
app.register_blueprint(telephony.bp)
app.register_blueprint(api.bp)
app.register_blueprint(replay.bp)
app.register_blueprint(admin.bp)
