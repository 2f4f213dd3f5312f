"""podforge.audio"""
