"""The shared volunteering core that posts, teams, activities, wishes and hours build on.

Its modules hold the places people serve (``posts``: service posts and claims), the teams
(``teams``), activities with their sign-ups and attendance (``activities``), micro-wishes
(``wishes``) and the hour logs every source reports into (``hours``), plus the rules the
features share (``rules``). Nothing here imports a feature package; features import this.
"""
